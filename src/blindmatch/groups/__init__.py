"""Groups of labs: forum policy, rounds and over-threshold matching (docs/groups.md)."""

from __future__ import annotations

from .overthreshold import OverThresholdError, RingLab, RunParams, bins_and_slots, coordinate, run_in_memory

__all__ = ["OverThresholdError", "RingLab", "RunParams", "bins_and_slots", "coordinate", "run_in_memory"]
