"""The two report formats the HTML page shows, read with a type check on every member it uses.

A member missing or of the wrong type raises :class:`~blindmatch.MalformedFile` naming the member (never
its value). Strings are kept as they are: the page escapes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import MalformedFile
from .local_report import REPORT_FORMAT

__all__ = ["ROUND_FORMAT", "Exchange", "Indicator", "Lab", "Round", "read_exchange", "read_round"]

ROUND_FORMAT = "blindmatch-round-report/1"
_NoneType = type(None)


def _get(doc: Mapping[str, Any], key: str, types: tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise MalformedFile(f"{where} lacks the member {key!r}")
    value = doc[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise MalformedFile(f"{where}: member {key!r} has the wrong type")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise MalformedFile(f"{where}: member {key!r} is negative")
    return value


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedFile(f"{where} is not a JSON object")
    return value


class Match(NamedTuple):
    kind: str
    value: str
    canonical: str
    origin: str


class Exchange(NamedTuple):
    """A local report (``blindmatch-local-report/2``), the members the page shows."""

    mode: str
    peer: str | None
    learned: str | None
    shared: int | None  # the report's "count"
    own_size: int
    own_padded_size: int | None
    peer_padded_size: int | None
    session_id: str | None
    transcript_hash: str | None
    finished: str | None
    per_kind: dict[str, tuple[int, int]]  # kind: (distinct, rows)
    matches: list[Match]


def _match(value: Any, where: str) -> Match:
    m = _obj(value, where)
    return Match(*(_get(m, k, (str,), where) for k in Match._fields))


def read_exchange(doc: Mapping[str, Any]) -> Exchange:
    """The local report ``doc`` (its JSON as a dict), checked."""
    doc = _obj(doc, "the report")
    if doc.get("format") != REPORT_FORMAT:
        raise MalformedFile(f"not a local report of format {REPORT_FORMAT}")
    w = "the local report"
    opt_int, opt_str = (int, _NoneType), (str, _NoneType)
    per_kind: dict[str, tuple[int, int]] = {}
    for kind, counts in _obj(_get(doc, "counts_per_kind", (dict,), w), "counts_per_kind").items():
        c = _obj(counts, "counts_per_kind")
        per_kind[str(kind)] = (_get(c, "distinct", (int,), w), _get(c, "rows", (int,), w))
    matches = _get(doc, "matches", (list,), w)
    return Exchange(
        mode=_get(doc, "mode", (str,), w),
        peer=_get(doc, "peer", opt_str, w),
        learned=_get(doc, "learned", opt_str, w),
        shared=_get(doc, "count", opt_int, w),
        own_size=_get(doc, "own_size", (int,), w),
        own_padded_size=_get(doc, "own_padded_size", opt_int, w),
        peer_padded_size=_get(doc, "peer_padded_size", opt_int, w),
        session_id=_get(doc, "session_id", opt_str, w),
        transcript_hash=_get(doc, "transcript_hash", opt_str, w),
        finished=_get(doc, "finished", opt_str, w),
        per_kind=per_kind,
        matches=[_match(m, f"match {i}") for i, m in enumerate(matches)],
    )


class Lab(NamedTuple):
    name: str
    status: str
    error: str | None
    matches: int
    transcript_hash: str | None
    record: str | None


class Indicator(NamedTuple):
    kind: str
    value: str
    canonical: str
    origin: str
    held_by: tuple[str, ...]


class Round(NamedTuple):
    """A merged round report (``blindmatch-round-report/1``), checked."""

    round: str
    me: str
    generated: str
    threshold: int
    labs: list[Lab]
    indicators: list[Indicator]
    per_kind: dict[str, dict[str, int]]
    over_threshold: list[int]


def _lab(value: Any, i: int) -> Lab:
    w = f"lab {i}"
    d = _obj(value, w)
    lab = Lab(
        name=_get(d, "name", (str,), w),
        status=_get(d, "status", (str,), w),
        error=_get(d, "error", (str, _NoneType), w),
        matches=_get(d, "matches", (int,), w),
        transcript_hash=_get(d, "transcript_hash", (str, _NoneType), w),
        record=_get(d, "record", (str, _NoneType), w),
    )
    if lab.status not in ("done", "failed"):
        raise MalformedFile(f"{w}: status must be 'done' or 'failed'")
    return lab


def _indicator(value: Any, i: int) -> Indicator:
    w = f"indicator {i}"
    d = _obj(value, w)
    held = _get(d, "held_by", (list,), w)
    if not all(isinstance(h, str) for h in held):
        raise MalformedFile(f"{w}: held_by must list lab names")
    kind, value, canonical, origin = (_get(d, k, (str,), w) for k in ("kind", "value", "canonical", "origin"))
    return Indicator(kind, value, canonical, origin, tuple(held))


def _per_kind(value: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind, row in _obj(value, "per_kind").items():
        out[str(kind)] = {str(lab): _get(_obj(row, "per_kind"), lab, (int,), "per_kind") for lab in row}
    return out


def read_round(doc: Mapping[str, Any]) -> Round:
    """The round report ``doc`` (its JSON as a dict), checked."""
    doc = _obj(doc, "the report")
    if doc.get("format") != ROUND_FORMAT:
        raise MalformedFile(f"not a round report of format {ROUND_FORMAT}")
    w = "the round report"
    labs = [_lab(v, i) for i, v in enumerate(_get(doc, "labs", (list,), w))]
    if len({lab.name for lab in labs}) != len(labs):
        raise MalformedFile("the round report names a lab twice")
    indicators = [_indicator(v, i) for i, v in enumerate(_get(doc, "indicators", (list,), w))]
    over = _get(doc, "over_threshold", (list,), w)
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(indicators) for i in over):
        raise MalformedFile("the round report's over_threshold holds an index out of range")
    return Round(
        round=_get(doc, "round", (str,), w),
        me=_get(doc, "me", (str,), w),
        generated=_get(doc, "generated", (str,), w),
        threshold=_get(doc, "threshold", (int,), w),
        labs=labs,
        indicators=indicators,
        per_kind=_per_kind(_get(doc, "per_kind", (dict,), w)),
        over_threshold=list(over),
    )
