"""The audit report: per side, its status and findings; signed by the auditor (docs/audit.md)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._strictjson import DuplicateKeyError, object_without_duplicates
from ..errors import InvalidParameter, MalformedFile
from ..session._canonjson import canonical_json
from ..session.identity import Identity, PublicIdentity
from ..session.record import iso_time
from .findings import FINDINGS, Finding

__all__ = [
    "REPORT_FORMAT",
    "AuditReport",
    "InvalidAuditReport",
    "SideReport",
    "sign_audit_report",
    "verify_audit_report",
]

REPORT_FORMAT = "blindmatch-audit-report"
_VERSION = 1
_CONTEXT = b"blindmatch-audit-report/v1\x00"
_MAX_REPORT = 1 << 22


class InvalidAuditReport(MalformedFile):
    """An audit report is malformed, or its signature does not verify under the expected auditor."""


@dataclass(frozen=True)
class SideReport:
    """One side: ``status`` is ``clean``, ``findings`` or ``pending`` (no package yet, deadline not passed).

    ``seed_digest`` and ``sketch`` (digests of some of its blinded elements) let later audits find reuse.
    ``selected``: the side's routine-audit coin, recomputed from its seed (``None`` without a package)."""

    role: str
    status: str
    findings: tuple[Finding, ...] = ()
    seed_digest: bytes | None = None
    sketch: tuple[bytes, ...] = ()
    selected: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "seed_digest": self.seed_digest.hex() if self.seed_digest is not None else None,
            "element_sketch": [d.hex() for d in self.sketch],
            "selected_for_audit": self.selected,
        }


@dataclass(frozen=True)
class AuditReport:
    """What an audit found; ``clean`` only when both sides are clean."""

    session_id: bytes
    transcript_hash: bytes
    mode: str
    auditor: PublicIdentity
    audited_at: float
    sides: dict[str, SideReport] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return all(s.status == "clean" for s in self.sides.values())

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sides.values() for f in s.findings]

    @property
    def verdict(self) -> str:
        statuses = {s.status for s in self.sides.values()}
        return "findings" if "findings" in statuses else "pending" if "pending" in statuses else "clean"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": _VERSION,
            "session_id": self.session_id.hex(),
            "transcript_hash": self.transcript_hash.hex(),
            "mode": self.mode,
            "auditor": self.auditor.to_text(),
            "audited_at": iso_time(self.audited_at),
            "verdict": self.verdict,
            "sides": {role: s.to_dict() for role, s in sorted(self.sides.items())},
            "finding_codes": sorted(FINDINGS),
        }


def sign_audit_report(auditor: Identity, report: AuditReport | Mapping[str, Any]) -> dict[str, Any]:
    """The report as a JSON object with the auditor's Ed25519 ``signature``."""
    doc = report.to_dict() if isinstance(report, AuditReport) else dict(report)
    if "signature" in doc:
        raise InvalidParameter("the report is signed already")
    if doc.get("auditor") != auditor.public.to_text():
        raise InvalidParameter("the report names another auditor than the signing identity")
    sig = auditor.sign(_CONTEXT + canonical_json(doc))
    doc["signature"] = base64.b64encode(sig).decode("ascii")
    return doc


def verify_audit_report(
    report: Mapping[str, Any] | str | bytes, auditor: PublicIdentity | bytes | str
) -> dict[str, Any]:
    """Check a signed audit report (a dict or its JSON text) is the named auditor's; return it.

    Raises :class:`InvalidAuditReport` when it is malformed, signed by another key, or altered."""
    if isinstance(auditor, str):
        auditor = PublicIdentity.from_text(auditor)
    elif isinstance(auditor, bytes | bytearray):
        auditor = PublicIdentity(bytes(auditor))
    if isinstance(report, str | bytes | bytearray):
        if len(report) > _MAX_REPORT:
            raise InvalidAuditReport("an audit report is at most 4 MiB")
        try:
            report = json.loads(report, object_pairs_hook=object_without_duplicates)
        except DuplicateKeyError:
            raise InvalidAuditReport("the report repeats a member") from None
        except (ValueError, RecursionError):
            raise InvalidAuditReport("the report is not JSON") from None
    if not isinstance(report, Mapping):
        raise InvalidAuditReport("an audit report is a JSON object")
    doc = dict(report)
    if doc.get("format") != REPORT_FORMAT or doc.get("version") != _VERSION:
        raise InvalidAuditReport("not a version 1 blindmatch audit report")
    if doc.get("auditor") != auditor.to_text():
        raise InvalidAuditReport("the report names another auditor")
    value = doc.pop("signature", None)
    try:
        sig = base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAuditReport("the report's signature is not base64") from None
    if len(sig) != 64 or base64.b64encode(sig).decode("ascii") != value:
        raise InvalidAuditReport("the report's signature is not 64 bytes in canonical base64")
    try:
        payload = _CONTEXT + canonical_json(doc)
    except InvalidParameter:
        raise InvalidAuditReport("the report is not canonical JSON") from None
    if not auditor.verify(sig, payload):
        raise InvalidAuditReport("the report's signature does not verify: altered or forged")
    doc["signature"] = value
    return doc
