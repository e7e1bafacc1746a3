"""What every input reader shares: the record type, the batch it fills, and strict decoding."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .._fileio import read_capped
from ..canonical import CANON_VERSIONS, kinds_of
from ..errors import InputUnreadable, MalformedFile

__all__ = [
    "DEFAULT_MAX_BYTES",
    "InputBatch",
    "InputRow",
    "decode_text",
    "load_json",
    "read_limited",
    "url_with_scheme",
]

#: Largest input file read by default (bytes). Larger files are refused, not truncated.
DEFAULT_MAX_BYTES = 1 << 30


class InputRow(NamedTuple):
    """One indicator as read: our kind, the value exactly as written, and where it came from.

    ``origin`` is ``"<source>:<line>"`` for line-based formats and ``"<source>#<json position>"`` for JSON.
    """

    kind: str
    value: str
    origin: str


@dataclass
class InputBatch:
    """Everything one input file gave: rows, plus what was left out and why (by type, never by value).

    ``unmapped`` counts entries that look like indicators but have no kind of ours (e.g. ``misp:md5``,
    ``stix-path:file:hashes.MD5``, ``kind:sha1`` for an unknown kind in a CSV). ``ignored`` counts entries
    that are not indicators at all (blank lines, STIX relationships, deleted MISP attributes).
    ``refanged`` counts the rows whose value refanging changed, by reason (``"[.] -> ."``; see
    :mod:`blindmatch.inputs.refang`).
    """

    source: str
    format: str
    rows: list[InputRow] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    refanged: Counter[str] = field(default_factory=Counter)

    def counts_per_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(r.kind for r in self.rows).items()))

    def values_by_kind(self) -> dict[str, list[InputRow]]:
        out: dict[str, list[InputRow]] = {}
        for r in self.rows:
            out.setdefault(r.kind, []).append(r)
        return out

    def extend(self, rows: Iterable[InputRow]) -> None:
        self.rows.extend(rows)

    def add(self, kind: str, value: str, origin: str) -> None:
        """Append one row as read; a ``url`` without a scheme gets ``http://`` (:func:`url_with_scheme`)."""
        if kind == "url":
            value = url_with_scheme(value)
        self.rows.append(InputRow(kind, value, origin))


# A scheme (RFC 3986 s.3.1) ...; and "host:port" at the start, which the scheme syntax also matches
# ("evil.example:8080/x" would otherwise read as scheme "evil.example").
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-]+:[0-9]+(?:[/?#]|$)")
# A defanged scheme ("hxxp[://]", "hxxps[:]//"): left for refanging, never prefixed with "http://".
_DEFANGED_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-*]* {0,3}[\[({] {0,3}:")


def url_with_scheme(value: str) -> str:
    """A ``url`` as written, or ``http://`` + the trimmed value when it has no scheme (see
    ``docs/input-formats.md``): ``evil.example/a`` and ``evil.example:8080/a`` get ``http://``, ``//host/a``
    gets ``http:``; a value with a scheme (a defanged one too: ``hxxp[://]a``), an empty one and a bare path
    (``/a``) are returned unchanged."""
    v = value.strip()
    if not v or (v.startswith("/") and not v.startswith("//")):
        return value
    if _HAS_SCHEME.match(v) is not None and _HOST_PORT.match(v) is None:
        return value
    if _DEFANGED_SCHEME.match(v) is not None:
        return value
    return "http:" + v if v.startswith("//") else "http://" + v


#: Every kind of every canon version: rows of a kind only a later version knows (``iban``) are read, and
#: counted as invalid when canonicalized under a version that does not know them.
ALL_KINDS: frozenset[str] = frozenset(k for v in CANON_VERSIONS for k in kinds_of(v))


_LONG_DIGITS = re.compile(r"\d(?:[ \-.]?\d){12,}")


def safe_name(name: str, limit: int = 64) -> str:
    """A type, kind or path name from a file, fit for a count key or a message: cut to ``limit``
    characters, and any run of 13 or more digits (a card number in the wrong column) replaced."""
    return _LONG_DIGITS.sub("<digits>", name)[:limit]


def known_kinds(kinds: Iterable[str] | None) -> frozenset[str]:
    """The kinds a reader passes on: those given, else every kind of every canon version (a value of a
    kind its set's canon version does not know is then counted as invalid there, not lost here)."""
    if kinds is not None:
        return frozenset(kinds)
    return frozenset(k for v in CANON_VERSIONS for k in kinds_of(v))


#: Other names for our kinds that other tools write in a ``kind`` column (matched after lowercasing and
#: trimming). Only names with one obvious meaning: ``uri`` (MISP: a path), ``link`` or ``hash`` are not here.
KIND_ALIASES: dict[str, str] = {
    "ipv4": "ip", "ipv6": "ip", "ip-address": "ip", "ip_address": "ip", "ipaddress": "ip",
    "ipv4-addr": "ip", "ipv6-addr": "ip", "ip-addr": "ip",
    "hostname": "domain", "fqdn": "domain", "domain-name": "domain",
    "domain_name": "domain", "domainname": "domain",
    "email-address": "email", "email_address": "email", "email-addr": "email", "e-mail": "email",
    "phone-number": "phone", "phone_number": "phone", "phonenumber": "phone", "telephone": "phone",
    "useragent": "user-agent", "user_agent": "user-agent", "ua": "user-agent",
    "as": "asn", "as-number": "asn", "as_number": "asn", "autonomous-system": "asn",
    "subnet": "cidr", "ip-cidr": "cidr",
}  # fmt: skip


def resolve_kind(name: str, kinds: frozenset[str]) -> str | None:
    """Our kind for a ``kind`` cell (lowercased, trimmed, aliases resolved), or None if not in ``kinds``."""
    k = name.strip().lower()
    k = k if k in kinds else KIND_ALIASES.get(k, k)
    return k if k in kinds else None


def read_limited(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a whole input file, refusing (not truncating) one larger than ``max_bytes``.

    A file that cannot be read raises :class:`~blindmatch.errors.InputUnreadable`."""
    return read_capped(path, max_bytes, what="input file", read_error=InputUnreadable)


def decode_text(data: bytes, source: str) -> str:
    """Strict UTF-8 (a leading BOM is allowed); a bad byte is reported with its line and column."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise MalformedFile(f"{source}: line {line}, column {col}: not valid UTF-8") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json(text: str, source: str, *, line: int | None = None) -> Any:
    """Parse JSON strictly; any failure is a :class:`MalformedFile` naming the source and position."""
    where = f"{source}: line {line}" if line is not None else source
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        lineno = exc.lineno if line is None else line
        raise MalformedFile(f"{source}: line {lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise MalformedFile(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # huge integers, NaN/Infinity
        raise MalformedFile(f"{where}: invalid JSON: {exc}") from None


def lines_of(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` with ``\\n`` or ``\\r\\n`` endings removed; no other character splits lines."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()  # the text ended with a newline: no line after it
    for i, line in enumerate(parts, 1):
        yield i, line[:-1] if line.endswith("\r") else line
