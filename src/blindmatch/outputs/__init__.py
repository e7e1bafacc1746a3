"""What an exchange leaves on the local disk: the local report (JSON, and CSV of the matches)."""

from __future__ import annotations

from .local_report import REPORT_FORMAT, LocalReport, Match, NearDuplicate

__all__ = ["REPORT_FORMAT", "LocalReport", "Match", "NearDuplicate"]
