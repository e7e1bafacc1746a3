"""Line-oriented inputs: plain lines of one kind, CSV, and JSON lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from ..errors import InvalidParameter, MalformedFile
from ._common import InputBatch, InputRow, known_kinds, lines_of, load_json, resolve_kind

__all__ = ["parse_csv", "parse_jsonl", "parse_lines"]


def _check_kind(kind: str, kinds: frozenset[str]) -> str:
    k = resolve_kind(kind, kinds)
    if k is None:
        raise InvalidParameter(f"unknown kind {kind!r} (known: {', '.join(sorted(kinds))})")
    return k


def parse_lines(
    text: str, source: str, *, kind: str, kinds: Iterable[str] | None = None
) -> InputBatch:
    """One value per line, all of ``kind``. Blank lines are counted as ignored; nothing is trimmed."""
    kind = _check_kind(kind, known_kinds(kinds))
    batch = InputBatch(source, "lines")
    for n, line in lines_of(text):
        if not line.strip():
            batch.ignored["blank line"] += 1
            continue
        batch.rows.append(InputRow(kind, line, f"{source}:{n}"))
    return batch


def parse_csv(
    text: str,
    source: str,
    *,
    kind: str | None = None,
    column: str | None = None,
    kinds: Iterable[str] | None = None,
) -> InputBatch:
    """CSV with a header row.

    Without options the columns ``kind`` and ``value`` are used. With ``column`` (and ``kind``), values come
    from that column, all of one kind; with only ``kind``, from the ``value`` column. Header names are
    matched case-insensitively. A row with an unknown kind is counted in ``unmapped`` as ``kind:<name>``.
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
        kcol: int | None = None
        if kind is None:
            if "kind" not in names:
                raise MalformedFile(f"{source}: line 1: no 'kind' column in the header (or give --kind)")
            kcol = names.index("kind")
        need = max(vcol, kcol if kcol is not None else 0) + 1
        start = reader.line_num + 1
        for row in reader:
            line = start
            start = reader.line_num + 1
            if not row or all(not f.strip() for f in row):
                batch.ignored["blank row"] += 1
                continue
            if len(row) < need:
                raise MalformedFile(f"{source}: line {line}: row has {len(row)} fields, expected {need}")
            if len(row) > len(names):
                # an unquoted comma in a value: reading the first fields would silently cut the value
                raise MalformedFile(
                    f"{source}: line {line}: row has {len(row)} fields, the header has {len(names)}"
                    " (quote values that contain a comma)"
                )
            k = kind if kcol is None else resolve_kind(row[kcol], ks)
            if k is None:
                written = row[kcol if kcol is not None else 0].strip().lower()
                batch.unmapped[f"kind:{written[:64] or '(empty)'}"] += 1
                continue
            batch.rows.append(InputRow(k, row[vcol], f"{source}:{line}"))
    except csv.Error as exc:
        raise MalformedFile(f"{source}: line {reader.line_num}: bad CSV: {exc}") from None
    return batch


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
            batch.unmapped[f"kind:{k.strip().lower()[:64] or '(empty)'}"] += 1
            continue
        batch.rows.append(InputRow(ours, v, f"{source}:{n}"))
    return batch
