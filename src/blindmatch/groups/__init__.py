"""Groups of labs: forum policy, rounds of pairwise sessions and over-threshold matching (docs/groups.md,
docs/groups-rounds.md)."""

from __future__ import annotations

from .group_file import (
    BadGroupSignature,
    Group,
    GroupFileError,
    GroupLab,
    GroupNotValidNow,
    GroupPolicyMismatch,
    load_group,
    sign_group,
)
from .overthreshold import OverThresholdError, RingLab, RunParams, bins_and_slots, coordinate, run_in_memory
from .round_report import IndicatorRow, LabRow, RoundReport, RoundReportError, build_round_report
from .rounds import (
    NotInGroup,
    PairFailed,
    PairOutcome,
    RoundResult,
    check_round,
    run_round,
    run_round_async,
)

__all__ = [
    "BadGroupSignature",
    "Group",
    "GroupFileError",
    "GroupLab",
    "GroupNotValidNow",
    "GroupPolicyMismatch",
    "IndicatorRow",
    "LabRow",
    "NotInGroup",
    "OverThresholdError",
    "PairFailed",
    "PairOutcome",
    "RingLab",
    "RoundReport",
    "RoundReportError",
    "RoundResult",
    "RunParams",
    "bins_and_slots",
    "build_round_report",
    "check_round",
    "coordinate",
    "load_group",
    "run_in_memory",
    "run_round",
    "run_round_async",
    "sign_group",
]
