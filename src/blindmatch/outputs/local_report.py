"""The local report: which of our own indicators matched, in their original form, with counts per kind.

:meth:`blindmatch.IndicatorSet.report` builds it from an exchange's result (the one way from matched items
back to input rows).

It holds indicator values, so it stays local: it is written with mode 0600 and is never part of the
shareable disclosure record.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .._fileio import atomic_write
from .._version import __version__
from ..canonical import CANON_VERSION

__all__ = ["REPORT_FORMAT", "LocalReport", "Match", "NearDuplicate"]

REPORT_FORMAT = "blindmatch-local-report/2"


class Match(NamedTuple):
    """One of our own indicators that the exchange found in the peer's set."""

    kind: str
    value: str  # as written in our input
    canonical: str
    origin: str


class NearDuplicate(NamedTuple):
    """One of our own prompts with a near-duplicate on the peer's side (``--near-duplicates``).

    ``bands_matched`` of ``bands`` LSH bands were found on the other side; ``similarity`` is the Jaccard
    similarity that implies, ``similarity_low``..``similarity_high`` an approximate 95 % range.
    """

    value: str  # as written in our input
    canonical: str
    origin: str
    bands_matched: int
    bands: int
    similarity: float
    similarity_low: float
    similarity_high: float


NEAR_DUPLICATE_COLUMNS = NearDuplicate._fields


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@dataclass
class LocalReport:
    """Everything one side learned in one exchange, for its own analysts.

    ``count`` is the intersection size the protocol revealed (``None`` when this side learns nothing);
    ``matches`` is empty when the mode gives only a count. ``own_size`` counts our distinct items,
    ``own_padded_size`` and ``peer_padded_size`` the padded sizes the two sides disclosed to each other (a
    bare PSI has no padding: there they are the distinct sizes).
    ``inputs`` describes what was read (records per kind, unmapped, ignored and invalid entries by type or
    reason).
    """

    mode: str
    count: int | None
    own_size: int
    peer_padded_size: int | None
    matches: list[Match] = field(default_factory=list)
    peer: str | None = None
    peer_fingerprint: str | None = None
    learned: str | None = None
    own_padded_size: int | None = None
    session_id: str | None = None
    transcript_hash: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    #: With near-duplicate prompt matching: the fingerprint profile (name and tag) and the matched prompts.
    prompt_profile: dict[str, str] | None = None
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    #: The canon version the indicators were canonicalized under.
    canon_version: int = CANON_VERSION

    def counts_per_kind(self) -> dict[str, dict[str, int]]:
        rows = Counter(m.kind for m in self.matches)
        distinct = Counter(k for k, _ in {(m.kind, m.canonical) for m in self.matches})
        return {k: {"rows": rows[k], "distinct": distinct[k]} for k in sorted(rows)}

    def to_dict(self) -> dict[str, Any]:
        finished = self.finished if self.finished is not None else self.clock()
        return {
            "format": REPORT_FORMAT,
            "notice": "LOCAL ONLY: contains indicator values; never share this file",
            "library_version": __version__,
            "canon_version": self.canon_version,
            "matches_are": "leads: indicators both sides hold, not verdicts (see inputs.exclusions)",
            "mode": self.mode,
            "peer": self.peer,
            "peer_fingerprint": self.peer_fingerprint,
            "learned": self.learned,
            "session_id": self.session_id,
            "transcript_hash": self.transcript_hash,
            "started": _iso(self.started) if self.started is not None else None,
            "finished": _iso(finished),
            "own_size": self.own_size,
            "own_padded_size": self.own_padded_size,
            "peer_padded_size": self.peer_padded_size,
            "count": self.count,
            "counts_per_kind": self.counts_per_kind(),
            "inputs": self.inputs,
            "matches": [m._asdict() for m in self.matches],
            **(
                {
                    "near_duplicates": {
                        "profile": self.prompt_profile,
                        "prompts": len({n.canonical for n in self.near_duplicates}),
                        "matches": [n._asdict() for n in self.near_duplicates],
                    }
                }
                if self.prompt_profile is not None
                else {}
            ),
        }

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def matches_csv(self) -> bytes:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["kind", "value", "canonical", "origin"])
        for m in self.matches:
            w.writerow([m.kind, m.value, m.canonical, m.origin])
        return buf.getvalue().encode("utf-8")

    def counts_csv(self) -> bytes:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["kind", "rows", "distinct"])
        for k, c in self.counts_per_kind().items():
            w.writerow([k, c["rows"], c["distinct"]])
        return buf.getvalue().encode("utf-8")

    def near_duplicates_csv(self) -> bytes:
        """Our prompts with a near-duplicate on the other side, one row per input record."""
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(NEAR_DUPLICATE_COLUMNS)
        for n in self.near_duplicates:
            w.writerow([*n[:5], *(f"{x:.3f}" for x in n[5:])])
        return buf.getvalue().encode("utf-8")

    def write_json(self, path: str | Path) -> Path:
        return atomic_write(path, self.to_json(), mode=0o600)

    def write_csv(self, path: str | Path, *, counts_path: str | Path | None = None) -> Path:
        """Matched indicators as CSV (``kind,value,canonical,origin``); optionally counts per kind too.

        Values are written exactly as they were read (no spreadsheet-formula escaping: a value such as
        ``+15551234567`` or ``=cmd`` stays as is), so open the file as data, not in a formula-evaluating
        spreadsheet.
        """
        if counts_path is not None:
            atomic_write(counts_path, self.counts_csv(), mode=0o600)
        return atomic_write(path, self.matches_csv(), mode=0o600)

    def write_near_duplicates_csv(self, path: str | Path) -> Path:
        return atomic_write(path, self.near_duplicates_csv(), mode=0o600)
