"""Reading indicator files: plain lines, CSV, JSON lines, MISP events and STIX 2.1 bundles.

Every reader returns an :class:`InputBatch` of :class:`InputRow` ``(kind, value, origin)``, with the value
as written (canonicalization comes later; :func:`read_indicators` undoes defanging of network kinds first,
see :mod:`blindmatch.inputs.refang`) and counts of what was not used, by type. A malformed
file raises :class:`~blindmatch.MalformedFile` naming the file and the line or JSON position.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from ..errors import InvalidParameter
from ._common import DEFAULT_MAX_BYTES, InputBatch, InputRow, decode_text, load_json, read_limited
from .misp import MISP_OBJECT_RELATIONS, MISP_TYPES, looks_like_misp, misp_from_doc, parse_misp
from .plain import parse_csv, parse_jsonl, parse_lines
from .refang import FREE_FORM_FORMATS, REFANG_KINDS, refang, refang_batch, refangs
from .stix import STIX_OBSERVABLES, STIX_PATTERN_PATHS, looks_like_stix, parse_stix, stix_from_doc

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "FREE_FORM_FORMATS",
    "MISP_OBJECT_RELATIONS",
    "MISP_TYPES",
    "REFANG_KINDS",
    "STIX_OBSERVABLES",
    "STIX_PATTERN_PATHS",
    "InputBatch",
    "InputFormat",
    "InputRow",
    "detect_format",
    "parse_csv",
    "parse_jsonl",
    "parse_lines",
    "parse_misp",
    "parse_stix",
    "parse_text",
    "read_indicators",
    "refang",
]

InputFormat = Literal["lines", "csv", "jsonl", "misp", "stix"]
FORMATS: tuple[str, ...] = ("lines", "csv", "jsonl", "misp", "stix")

_BY_SUFFIX = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "lines",
    ".lst": "lines",
    ".list": "lines",
}


def detect_format(name: str, text: str) -> str:
    """Guess the format from the file name, and for ``.json`` from the top of the document (``"json"``
    when the top does not tell: :func:`read_indicators` then looks at the parsed document).

    Raises :class:`~blindmatch.InvalidParameter` when it cannot tell (pass the format explicitly).
    """
    suffix = Path(name).suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix == ".json":
        head = text[:4096]
        if '"bundle"' in head and '"type"' in head:
            return "stix"
        if '"Event"' in head or '"response"' in head:
            return "misp"
        return "json"  # decided by read_indicators once the document is parsed
    raise InvalidParameter(f"cannot tell the format of {name}; give it (one of {', '.join(FORMATS)})")


def parse_text(
    text: str,
    source: str,
    fmt: str,
    *,
    kind: str | None = None,
    column: str | None = None,
    kinds: Iterable[str] | None = None,
    misp_text: bool = False,
    refang: bool | None = None,
) -> InputBatch:
    """Parse already-decoded text in the given format (see :func:`read_indicators`)."""
    batch = _parse_text(text, source, fmt, kind=kind, column=column, kinds=kinds, misp_text=misp_text)
    return _refanged(batch, refang)


def _refanged(batch: InputBatch, refang: bool | None) -> InputBatch:
    if refangs(refang, batch.format):
        refang_batch(batch)
    return batch


def _parse_text(
    text: str,
    source: str,
    fmt: str,
    *,
    kind: str | None,
    column: str | None,
    kinds: Iterable[str] | None,
    misp_text: bool,
) -> InputBatch:
    if fmt == "lines":
        if kind is None:
            raise InvalidParameter("plain lines need a kind (--kind)")
        return parse_lines(text, source, kind=kind, kinds=kinds)
    if fmt == "csv":
        return parse_csv(text, source, kind=kind, column=column, kinds=kinds, misp_text=misp_text)
    if kind is not None or column is not None:
        raise InvalidParameter(f"--kind/--column do not apply to {fmt} input")
    if fmt == "jsonl":
        return parse_jsonl(text, source, kinds=kinds)
    if fmt == "misp":
        return parse_misp(text, source, misp_text=misp_text)
    if fmt == "stix":
        return parse_stix(text, source)
    raise InvalidParameter(f"unknown input format {fmt!r} (one of {', '.join(FORMATS)})")


def read_indicators(
    path: str | Path,
    *,
    fmt: str = "auto",
    kind: str | None = None,
    column: str | None = None,
    kinds: Iterable[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: str | None = None,
    misp_text: bool = False,
    refang: bool | None = None,
) -> InputBatch:
    """Read one indicator file.

    ``fmt`` is ``"auto"`` (from the name: ``.csv``, ``.jsonl``/``.ndjson``, ``.txt``; ``.json`` is looked
    into for a STIX bundle or a MISP event; with ``kind`` given, any other name is read as plain lines) or
    one of :data:`FORMATS`. ``kind`` gives the kind of plain lines, or of a CSV ``column``. ``kinds`` limits
    the kinds accepted from CSV/JSON lines (default: the kinds of every canon version). MISP free text
    (attributes of type ``text``: descriptions, PE section names, PEM blobs) is read only with
    ``misp_text=True``; otherwise it is counted as ignored ``misp:text``.

    ``refang`` undoes defanging (``hxxp://evil[.]com``) in values of the network kinds
    (:data:`REFANG_KINDS`, never prompts or text), counted by reason in ``refanged``: ``None`` (default)
    refangs the free-form formats (:data:`FREE_FORM_FORMATS`: plain lines, CSV, JSON lines) and not STIX or
    MISP JSON; ``True`` refangs every format, ``False`` none.
    """
    p = Path(path)
    name = source if source is not None else str(p)
    text = decode_text(read_limited(p, max_bytes), name)
    if fmt == "auto":
        try:
            fmt = detect_format(p.name, text)
        except InvalidParameter:
            if kind is None:
                raise
            fmt = "lines"
        if fmt == "json":
            if kind is not None or column is not None:
                raise InvalidParameter("--kind/--column do not apply to JSON documents")
            doc = load_json(text, name)
            if looks_like_stix(doc):
                return _refanged(stix_from_doc(doc, name), refang)
            if looks_like_misp(doc):
                return _refanged(misp_from_doc(doc, name, misp_text=misp_text), refang)
            raise InvalidParameter(f"cannot tell the format of {name}: not STIX objects or a MISP event")
    return parse_text(
        text, name, fmt, kind=kind, column=column, kinds=kinds, misp_text=misp_text, refang=refang
    )
