"""A round's merged local report: for each of my indicators that some peer holds, which labs hold it;
counts per kind and per lab; the indicators held by at least ``threshold`` labs (docs/groups-rounds.md).

It holds indicator values, so it stays local (written with mode 0600). The format is
``blindmatch-round-report/1``; :meth:`RoundReport.from_json` reads it back strictly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._fileio import atomic_write
from ..errors import InvalidParameter, MalformedFile
from ..indicator_set import IndicatorSet
from ..psi import PsiResult, indicator_item

__all__ = [
    "ROUND_REPORT_FORMAT",
    "IndicatorRow",
    "LabRow",
    "RoundReport",
    "RoundReportError",
    "build_round_report",
]

ROUND_REPORT_FORMAT = "blindmatch-round-report/1"
_TOP = ("format", "round", "me", "generated", "threshold", "labs", "indicators", "per_kind", "over_threshold")
_LAB = ("name", "status", "error", "matches", "transcript_hash", "record")
_ROW = ("kind", "value", "canonical", "origin", "held_by")

Indicator = tuple[str, str]  # (kind, canonical)


class RoundReportError(MalformedFile):
    """A round report file is not in the ``blindmatch-round-report/1`` form."""


@dataclass(frozen=True)
class LabRow:
    """One peer of the round: ``status`` ``done`` or ``failed`` (``error`` says why; nothing of a failed
    pair is counted), the number of my distinct indicators it holds, its pair's transcript hash and the
    path of my signed record of the pair (relative to the report's folder)."""

    name: str
    status: str
    error: str | None
    matches: int
    transcript_hash: str | None
    record: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _LAB}


@dataclass(frozen=True)
class IndicatorRow:
    """One input row of mine whose indicator some peer holds; ``held_by``: lab names in group order, me
    included. ``canonical`` is shown redacted for the sensitive kinds, as in the pair reports."""

    kind: str
    value: str
    canonical: str
    origin: str
    held_by: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in _ROW[:4]}, "held_by": list(self.held_by)}


@dataclass(frozen=True)
class RoundReport:
    """The merged report (schema in docs/groups-rounds.md)."""

    round: str
    me: str
    generated: str
    threshold: int
    labs: tuple[LabRow, ...]
    indicators: tuple[IndicatorRow, ...]
    per_kind: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    over_threshold: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ROUND_REPORT_FORMAT,
            "round": self.round,
            "me": self.me,
            "generated": self.generated,
            "threshold": self.threshold,
            "labs": [lab.to_json() for lab in self.labs],
            "indicators": [row.to_json() for row in self.indicators],
            "per_kind": {k: dict(v) for k, v in self.per_kind.items()},
            "over_threshold": list(self.over_threshold),
        }

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def write(self, path: str | Path) -> Path:
        """Write the report (mode 0600, atomically)."""
        return atomic_write(path, self.to_json(), mode=0o600)

    @classmethod
    def from_json(cls, data: bytes | str) -> RoundReport:
        """Read a report back; :class:`RoundReportError` for anything but what :meth:`to_json` writes."""
        try:
            doc = json.loads(data)
            return _report_from(doc)
        except RoundReportError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise RoundReportError(f"not a round report ({type(exc).__name__})") from None


def _exact(what: str, obj: Any, keys: Sequence[str]) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != set(keys):
        raise RoundReportError(f"{what} must hold exactly {', '.join(keys)}")
    return obj


def _typed(what: str, value: Any, *types: type) -> Any:
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        raise RoundReportError(f"{what} has the wrong type")
    return value


def _report_from(doc: Any) -> RoundReport:
    top = _exact("the report", doc, _TOP)
    if top["format"] != ROUND_REPORT_FORMAT:
        raise RoundReportError(f"format must be {ROUND_REPORT_FORMAT!r}")
    labs = tuple(
        LabRow(
            _typed("name", e["name"], str), _typed("status", e["status"], str),
            _typed("error", e["error"], str, type(None)), _typed("matches", e["matches"], int),
            _typed("transcript_hash", e["transcript_hash"], str, type(None)),
            _typed("record", e["record"], str, type(None)),
        )
        for e in (_exact("a lab", x, _LAB) for x in _typed("labs", top["labs"], list))
    )  # fmt: skip
    rows = tuple(
        IndicatorRow(_typed("kind", e["kind"], str), _typed("value", e["value"], str),
                     _typed("canonical", e["canonical"], str), _typed("origin", e["origin"], str),
                     tuple(_typed("held_by", n, str) for n in _typed("held_by", e["held_by"], list)))
        for e in (_exact("an indicator", x, _ROW) for x in _typed("indicators", top["indicators"], list))
    )  # fmt: skip
    per_kind = {
        _typed("kind", k, str): {_typed("lab", n, str): _typed("count", c, int) for n, c in v.items()}
        for k, v in _typed("per_kind", top["per_kind"], dict).items()
        if _typed("per_kind entry", v, dict) is not None
    }
    over = tuple(_typed("index", i, int) for i in _typed("over_threshold", top["over_threshold"], list))
    if any(not 0 <= i < len(rows) for i in over):
        raise RoundReportError("over_threshold indexes outside indicators")
    return RoundReport(
        _typed("round", top["round"], str), _typed("me", top["me"], str),
        _typed("generated", top["generated"], str), _typed("threshold", top["threshold"], int),
        labs, rows, per_kind, over,
    )  # fmt: skip


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def build_round_report(
    *,
    round_name: str,
    order: Sequence[str],
    me: str,
    threshold: int,
    iset: IndicatorSet,
    own: Mapping[str, Sequence[str]],
    held: Mapping[str, frozenset[Indicator]],
    labs: Sequence[LabRow],
    generated: float,
) -> RoundReport:
    """The merged report of lab ``me``.

    ``order``: every lab's name in group order; ``own``: my canonical values per kind of the round;
    ``held``: for each peer whose pair is done, which of my ``(kind, canonical)`` indicators it holds
    (failed pairs are absent: nothing of them is counted); ``labs``: one row per peer, in group order.
    Values are shown as written in my inputs (read again, as for a pair's local report).
    """
    mine = {(k, c) for k, vs in own.items() for c in vs}
    stray = {name for name, got in held.items() if not got <= mine}
    if stray:
        raise InvalidParameter(f"matches of {', '.join(sorted(stray))} are not indicators of ours")
    holders: dict[Indicator, tuple[str, ...]] = {}
    for ind in sorted(set().union(*held.values()) if held else set()):
        holders[ind] = tuple(n for n in order if n == me or ind in held.get(n, frozenset()))
    rows = _rows(iset, holders)
    per_kind = {
        kind: {n: (len(values) if n == me else sum(1 for c in values if (kind, c) in held.get(n, ())))
               for n in order}
        for kind, values in sorted(own.items())
        if values
    }  # fmt: skip
    over = tuple(i for i, row in enumerate(rows) if len(row.held_by) >= threshold)
    return RoundReport(round_name, me, _iso(generated), threshold, tuple(labs), rows, per_kind, over)


def _rows(iset: IndicatorSet, holders: Mapping[Indicator, tuple[str, ...]]) -> tuple[IndicatorRow, ...]:
    """One row per input row of the indicators in ``holders``, values as written (iset's local report)."""
    if not holders:
        return ()
    version = iset.canon_version
    matched = [indicator_item(k, c, version) for k, c in holders]
    result = PsiResult("mutual", matched, len(matched), len(matched), 0, bytes(32))
    shown = {(k, iset._shown(k, c)): (k, c) for k, c in holders}
    rows = []
    for m in iset.report(result, finished=0.0).matches:
        ind = shown[(m.kind, m.canonical)]
        rows.append(IndicatorRow(m.kind, m.value, m.canonical, m.origin, holders[ind]))
    rows.sort(key=lambda r: (r.kind, r.canonical, r.origin))
    return tuple(rows)
