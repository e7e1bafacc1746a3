"""Groups of labs: forum policy, rounds of pairwise sessions and over-threshold matching (docs/groups.md,
docs/groups-rounds.md)."""

from __future__ import annotations

from .dropbox import DropboxTimeout, run_coordinator, run_lab
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
from .threshold import ThresholdReport, coordinate_threshold, run_threshold, threshold_terms
from .threshold_run import ThresholdCoordinator, ThresholdLab, ThresholdTerms, run_threshold_in_memory

__all__ = [
    "BadGroupSignature",
    "DropboxTimeout",
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
    "ThresholdCoordinator",
    "ThresholdLab",
    "ThresholdReport",
    "ThresholdTerms",
    "bins_and_slots",
    "build_round_report",
    "check_round",
    "coordinate",
    "coordinate_threshold",
    "load_group",
    "run_coordinator",
    "run_in_memory",
    "run_lab",
    "run_round",
    "run_round_async",
    "run_threshold",
    "run_threshold_in_memory",
    "sign_group",
    "threshold_terms",
]
