"""Line-oriented inputs: plain lines of one kind, CSV, and JSON lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import InvalidParameter, MalformedFile
from ._common import InputBatch, known_kinds, lines_of, load_json, resolve_kind, safe_name
from .misp import map_attribute

__all__ = ["parse_csv", "parse_jsonl", "parse_lines"]


def _check_kind(kind: str, kinds: frozenset[str]) -> str:
    k = resolve_kind(kind, kinds)
    if k is None:
        raise InvalidParameter(f"unknown kind {kind!r} (known: {', '.join(sorted(kinds))})")
    return k


def parse_lines(text: str, source: str, *, kind: str, kinds: Iterable[str] | None = None) -> InputBatch:
    """One value per line, all of ``kind``. Blank lines are counted as ignored; nothing is trimmed."""
    kind = _check_kind(kind, known_kinds(kinds))
    batch = InputBatch(source, "lines")
    for n, line in lines_of(text):
        if not line.strip():
            batch.ignored["blank line"] += 1
            continue
        batch.add(kind, line, f"{source}:{n}")
    return batch


def _data_rows(
    reader: Iterator[list[str]], line_num: Callable[[], int], width: int, need: int, batch: InputBatch
) -> Iterator[tuple[int, list[str]]]:
    """``(line where the record starts, fields)`` of every non-blank record, checked against the header."""
    source = batch.source
    start = line_num() + 1
    for row in reader:
        line = start
        start = line_num() + 1
        if not row or all(not f.strip() for f in row):
            batch.ignored["blank row"] += 1
            continue
        if len(row) < need:
            raise MalformedFile(f"{source}: line {line}: row has {len(row)} fields, expected {need}")
        if len(row) > width:
            # an unquoted comma in a value: reading the first fields would silently cut the value
            raise MalformedFile(
                f"{source}: line {line}: row has {len(row)} fields, the header has {width}"
                " (quote values that contain a comma)"
            )
        yield line, row


def _is_misp_export(names: list[str]) -> bool:
    """MISP's CSV export: ``uuid,event_id,category,type,value,comment,to_ids,date,...``."""
    return "kind" not in names and {"type", "value", "category"} <= set(names)


def parse_csv(
    text: str,
    source: str,
    *,
    kind: str | None = None,
    column: str | None = None,
    kinds: Iterable[str] | None = None,
    misp_text: bool = False,
) -> InputBatch:
    """CSV with a header row.

    Without options the columns ``kind`` and ``value`` are used; a header with ``category``, ``type`` and
    ``value`` and no ``kind`` is MISP's CSV export, whose ``type`` goes through the MISP type map. With
    ``column`` (and ``kind``), values come from that column, all of one kind; with only ``kind``, from the
    ``value`` column. Header names are matched case-insensitively. A row with an unknown kind is counted in
    ``unmapped`` as ``kind:<name>``; a row with more fields than the header is malformed. ``misp_text``
    reads free text from MISP's export (see :func:`~blindmatch.inputs.parse_misp`).
    """
    ks = known_kinds(kinds)
    if column is not None and kind is None:
        raise InvalidParameter("--column needs --kind")
    if kind is not None:
        kind = _check_kind(kind, ks)
    batch = InputBatch(source, "csv")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise MalformedFile(f"{source}: empty CSV file (a header row is required)")
        names = [h.strip().lower() for h in header]
        value_name = (column or "value").strip().lower()
        if value_name not in names:
            raise MalformedFile(f"{source}: line 1: no column named {value_name!r} in the header")
        vcol = names.index(value_name)
        if kind is None and _is_misp_export(names):
            _misp_csv(reader, names, batch, ks, misp_text)
            return batch
        kcol: int | None = None
        if kind is None:
            if "kind" not in names:
                raise MalformedFile(f"{source}: line 1: no 'kind' column in the header (or give --kind)")
            kcol = names.index("kind")
        need = max(vcol, kcol if kcol is not None else 0) + 1
        for line, row in _data_rows(reader, lambda: reader.line_num, len(names), need, batch):
            k = kind if kcol is None else resolve_kind(row[kcol], ks)
            if k is None:
                written = row[kcol if kcol is not None else 0].strip().lower()
                batch.unmapped[f"kind:{safe_name(written) or '(empty)'}"] += 1
                continue
            batch.add(k, row[vcol], f"{source}:{line}")
    except csv.Error as exc:
        raise MalformedFile(f"{source}: line {reader.line_num}: bad CSV: {exc}") from None
    return batch


def _misp_csv(reader: Any, names: list[str], batch: InputBatch, kinds: frozenset[str], text: bool) -> None:
    tcol, vcol = names.index("type"), names.index("value")
    ocol = names.index("object_name") if "object_name" in names else None
    rcol = names.index("object_relation") if "object_relation" in names else None
    for line, row in _data_rows(reader, lambda: int(reader.line_num), len(names), max(tcol, vcol) + 1, batch):
        obj = row[ocol].strip() if ocol is not None and ocol < len(row) else ""
        rel = row[rcol].strip() if rcol is not None and rcol < len(row) else ""
        before = len(batch.rows)
        map_attribute(
            batch, row[tcol].strip(), row[vcol], f"line {line}", f"{batch.source}:{line}",
            relation=(obj, rel) if obj and rel else None, text=text,
        )  # fmt: skip
        _keep_kinds(batch, before, kinds)


def _keep_kinds(batch: InputBatch, start: int, kinds: frozenset[str]) -> None:
    """Count rows from ``start`` on whose kind is not accepted as unmapped, as the kind column would."""
    kept = [r for r in batch.rows[start:] if r.kind in kinds]
    for r in batch.rows[start:]:
        if r.kind not in kinds:
            batch.unmapped[f"kind:{safe_name(r.kind)}"] += 1
    del batch.rows[start:]
    batch.rows.extend(kept)


def parse_jsonl(text: str, source: str, *, kinds: Iterable[str] | None = None) -> InputBatch:
    """One JSON object per line with string fields ``kind`` and ``value`` (other fields are ignored)."""
    ks = known_kinds(kinds)
    batch = InputBatch(source, "jsonl")
    for n, line in lines_of(text):
        if not line.strip():
            continue
        obj = load_json(line, source, line=n)
        if not isinstance(obj, dict):
            raise MalformedFile(f"{source}: line {n}: expected a JSON object")
        k, v = obj.get("kind"), obj.get("value")
        if not isinstance(k, str):
            raise MalformedFile(f"{source}: line {n}: 'kind' must be a string")
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            raise MalformedFile(f"{source}: line {n}: 'value' must be a string")
        ours = resolve_kind(k, ks)
        if ours is None:
            batch.unmapped[f"kind:{safe_name(k.strip().lower()) or '(empty)'}"] += 1
            continue
        batch.add(ours, v, f"{source}:{n}")
    return batch
