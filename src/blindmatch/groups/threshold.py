"""Over-threshold runs from a round's group file (docs/groups.md, "Running it"): the library calls behind
``blindmatch threshold lab`` and ``blindmatch threshold coordinate``.

The group file (signed by the forum) names the labs in ring order, ``t``, the kinds and the cap ``N`` every
list is padded to; the forum's policy must allow all of it (checked before anything is written). The run's
id is the group file's digest, so two group files never share a run. A lab keeps its run seed in its state
folder (mode 0600), so a lab restarted with the same folder sends the same messages again and resumes; the
seed is deleted when the run is over.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._fileio import atomic_write
from ..errors import LocalError
from ..indicator_set import IndicatorSet
from ..psi import PsiResult
from ..psi import indicator_item as _item
from ..session.identity import Identity
from .dropbox import run_coordinator, run_lab
from .forum_policy import ForumPolicy
from .group_file import Group
from .overthreshold import OverThresholdError
from .rounds import round_items
from .threshold_run import ThresholdCoordinator, ThresholdLab, ThresholdTerms

__all__ = [
    "THRESHOLD_REPORT_FORMAT",
    "ThresholdReport",
    "coordinate_threshold",
    "run_threshold",
    "threshold_terms",
]

THRESHOLD_REPORT_FORMAT = "blindmatch-threshold-report/1"


def threshold_terms(group: Group, policy: ForumPolicy, now: float) -> ThresholdTerms:
    """The run's terms from the group file, held to ``policy`` (typed policy errors)."""
    if group.forum_policy != policy.digest:
        raise LocalError("the group file belongs to another version of the forum policy")
    group.check_valid_at(now)
    labs = tuple((lab.name, lab.public_key) for lab in group.labs)
    terms = ThresholdTerms(group.digest[:16], labs, group.threshold, group.max_items, group.kinds,
                           policy.forum_key)  # fmt: skip
    terms.check_policy(policy, now)
    return terms


@dataclass(frozen=True)
class ThresholdReport:
    """A lab's result: its indicator rows held by at least ``threshold`` of the labs (values as written in
    its inputs). Holds indicator values: local only, written 0600."""

    round: str
    me: str
    generated: float
    threshold: int
    labs: tuple[str, ...]
    padded_items: int
    rows: tuple[tuple[str, str, str, str], ...]  # (kind, value as written, canonical, origin)
    retention_days: int = 0  # the forum policy's: delete the report by generated + this

    def to_json(self) -> bytes:
        per_kind: dict[str, int] = {}
        for kind, *_ in self.rows:
            per_kind[kind] = per_kind.get(kind, 0) + 1
        doc = {
            "format": THRESHOLD_REPORT_FORMAT,
            "round": self.round,
            "me": self.me,
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.generated)),
            "threshold": self.threshold,
            "labs": list(self.labs),
            "padded_items": self.padded_items,
            "delete_after": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.generated + 86400 * self.retention_days)
            ),
            "per_kind": dict(sorted(per_kind.items())),
            "over_threshold": [
                {"kind": k, "value": v, "canonical": c, "origin": o} for k, v, c, o in self.rows
            ],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n"

    def write(self, path: str | os.PathLike[str]) -> Path:
        return atomic_write(Path(path), self.to_json(), mode=0o600)


def _seed(state_dir: Path, terms: ThresholdTerms, rng: Callable[[int], bytes]) -> tuple[Path, bytes]:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / f"threshold-{terms.round_id.hex()}.seed"
    if path.exists():
        data = path.read_bytes()
        if len(data) != 32 or path.is_symlink():
            raise LocalError(f"{path} is not a run seed (32 bytes): remove it to start the run afresh")
        return path, data
    data = rng(32)
    atomic_write(path, data, mode=0o600)
    return path, data


def run_threshold(
    group: Group,
    policy: ForumPolicy,
    identity: Identity,
    iset: IndicatorSet,
    dropbox: str | os.PathLike[str],
    state_dir: str | os.PathLike[str],
    *,
    now: float | None = None,
    timeout: float = 600.0,
    interval: float = 0.5,
    rng: Callable[[int], bytes] = os.urandom,
) -> ThresholdReport:
    """Our side of the over-threshold run of ``group`` through the shared folder ``dropbox``."""
    when = time.time() if now is None else now
    terms = threshold_terms(group, policy, when)
    me = terms.labs[terms.index_of(identity.public) - 1][0]
    items = round_items(iset, group)
    seed_path, seed = _seed(Path(state_dir), terms, rng)
    lab = ThresholdLab(terms, identity, items, seed=seed)
    try:
        found = run_lab(lab, dropbox, timeout=timeout, interval=interval)
    except OverThresholdError:
        # the run is dead (a hop failed its check, or a message was refused): never reuse its seed, whose
        # check coefficients may be published to find the cheater; the forum issues a new group file
        seed_path.unlink(missing_ok=True)
        raise
    seed_path.unlink(missing_ok=True)
    pairs = items.map_back(found)
    rows: list[tuple[str, str, str, str]] = []
    if pairs:
        version = iset.canon_version
        matched = [_item(k, c, version) for k, c in pairs]
        result = PsiResult("mutual", matched, len(matched), len(matched), 0, bytes(32))
        rows = [(m.kind, m.value, m.canonical, m.origin) for m in iset.report(result, finished=0.0).matches]
    names = tuple(name for name, _ in terms.labs)
    return ThresholdReport(group.round, me, when, terms.t, names, terms.n_items, tuple(sorted(rows)),
                           policy.retention_days)  # fmt: skip


def coordinate_threshold(
    group: Group,
    policy: ForumPolicy,
    identity: Identity,
    dropbox: str | os.PathLike[str],
    *,
    now: float | None = None,
    timeout: float = 600.0,
    interval: float = 0.5,
) -> dict[str, int]:
    """The forum's side of the run: relay, join, answer; how many slots passed per lab (what the coordinator
    learns, besides which labs share each passing set)."""
    terms = threshold_terms(group, policy, time.time() if now is None else now)
    coordinator = ThresholdCoordinator(terms, identity)
    passed = run_coordinator(coordinator, dropbox, timeout=timeout, interval=interval)
    return {terms.labs[j - 1][0]: len(slots) for j, slots in sorted(passed.items())}
