"""What an exchange leaves on the local disk: the local report (JSON, and CSV of the matches), and the
report as one self-contained HTML page (docs/html-report.md)."""

from __future__ import annotations

from .html_report import (
    CSP,
    ROUND_FORMAT,
    MissingRecord,
    RecordCheck,
    check_record,
    exchange_html,
    report_kind,
    round_html,
)
from .local_report import REPORT_FORMAT, LocalReport, Match, NearDuplicate

__all__ = [
    "CSP",
    "REPORT_FORMAT",
    "ROUND_FORMAT",
    "LocalReport",
    "Match",
    "MissingRecord",
    "NearDuplicate",
    "RecordCheck",
    "check_record",
    "exchange_html",
    "report_kind",
    "round_html",
]
