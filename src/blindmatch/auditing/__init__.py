"""Audits: re-execute both sides of an audited session from their escrowed packages (docs/audit.md).
``blindmatch.audit`` is :func:`audit`; this module holds the rest.

``audit(auditor, packages, records)`` opens each package with the auditor's identity, verifies the
transcript, opens each side's commitment and re-executes every PSI payload the side sent from its
committed seed and list against the peer's payloads as actually sent, checks both records, and reports
findings from the fixed list :data:`FINDINGS`. ``sign_audit_report`` / ``verify_audit_report`` make and
check the auditor's signed report. ``selected_for_audit`` is a side's routine-audit coin.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ..errors import BlindmatchError
from ..session._seeded import ephemeral
from ..session.audit_package import OpenedPackage, open_package, read_package_header
from ..session.channel import T_ACCEPT, traffic_keys, x25519_shared
from ..session.commitment import selected_for_audit
from ..session.errors import InvalidAuditPackage
from ..session.identity import Identity
from ._side import SideAudit, audit_side, element_digest, seed_digest
from ._transcript import Flow, TranscriptProblem, read_flow
from .findings import FINDINGS, Finding
from .report import (
    AuditReport,
    InvalidAuditReport,
    SideReport,
    sign_audit_report,
    verify_audit_report,
)

__all__ = [
    "FINDINGS",
    "AuditReport",
    "Finding",
    "InvalidAuditPackage",
    "InvalidAuditReport",
    "SideReport",
    "audit",
    "element_digest",
    "seed_digest",
    "selected_for_audit",
    "sign_audit_report",
    "verify_audit_report",
]

ROLES = ("initiator", "responder")
_GAINS = {
    "transcript-mismatch": "a package that misstates what was sent",
    "package-unopenable": "its set and seed stay hidden from the auditor",
    "package-missing": "its messages cannot be checked",
}


def _finding(code: str, role: str, index: int | None, detail: str) -> Finding:
    return Finding(code, role, index, detail, _GAINS[code])


def _records(records: Sequence[Mapping[str, Any] | str | bytes]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        try:
            doc = json.loads(r) if isinstance(r, str | bytes | bytearray) else dict(r)
        except ValueError:
            continue  # checked (and reported) per side: a record that is not JSON counts as missing
        if isinstance(doc, dict) and doc.get("role") in ROLES:
            out.setdefault(str(doc["role"]), doc)
    return out


def _reference(opened: dict[str, OpenedPackage], found: dict[str, list[Finding]]) -> Flow:
    """The transcript to audit against: each package's copy must verify; where the copies differ, the
    message's author is the one whose copy misstates it (its peer holds what it actually signed and sent)."""
    flows: dict[str, Flow] = {}
    for role, pkg in opened.items():
        try:
            flows[role] = read_flow(pkg.contents.transcript)
        except TranscriptProblem as exc:
            found[role].append(_finding("transcript-mismatch", role, exc.index,
                                        f"its package's transcript does not verify: {exc}"))  # fmt: skip
    if not flows:
        raise InvalidAuditPackage("no package holds a transcript that verifies: nothing to audit")
    if len(flows) == 2:
        a, b = flows["initiator"].messages, flows["responder"].messages
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x.wire != y.wire:
                author = flows["initiator"].authors[i]
                found[author].append(
                    _finding(
                        "transcript-mismatch",
                        author,
                        i,
                        "its package holds another message than its peer received",
                    )
                )
                return flows["responder" if author == "initiator" else "initiator"]
        return flows["initiator"] if len(a) >= len(b) else flows["responder"]
    return next(iter(flows.values()))


def _session_end(records: dict[str, dict[str, Any]], flow: Flow) -> float:
    ends = []
    for doc in records.values():
        ended = (doc.get("times") or {}).get("ended")
        if isinstance(ended, str):
            with contextlib.suppress(ValueError):
                ends.append(float(calendar.timegm(time.strptime(ended, "%Y-%m-%dT%H:%M:%SZ"))))
    return max(ends) if ends else float(flow.manifest.not_after)


def _open_all(
    auditor: Identity, packages: Sequence[bytes], found: dict[str, list[Finding]]
) -> tuple[dict[str, OpenedPackage], set[str]]:
    """Open each package: a tampered or forged one raises; a party-signed one that does not open for this
    auditor is that side's finding ``package-unopenable``."""
    opened: dict[str, OpenedPackage] = {}
    unopenable: set[str] = set()
    session_ids = set()
    for data in packages:
        head = read_package_header(data)  # tampered or forged: the typed error, here
        session_ids.add(head.session_id)
        if head.role in opened or head.role in unopenable:
            raise InvalidAuditPackage(f"two packages of the {head.role}")
        try:
            opened[head.role] = open_package(data, auditor)
        except InvalidAuditPackage as exc:
            unopenable.add(head.role)
            found[head.role].append(_finding("package-unopenable", head.role, None, str(exc)))
    if len(session_ids) > 1:
        raise InvalidAuditPackage("the packages belong to different sessions")
    if not opened:
        raise InvalidAuditPackage("no package opens with this auditor's key: nothing to audit")
    return opened, unopenable


def _peer_keys(
    flow: Flow, opened: dict[str, OpenedPackage], role: str
) -> Callable[[], tuple[bytes, bytes] | None]:
    """The traffic keys the *peer's* seed gives (to read the data messages when ``role``'s are unusable)."""

    def keys() -> tuple[bytes, bytes] | None:
        pkg = opened.get("responder" if role == "initiator" else "initiator")
        if pkg is None or flow.accept is None:
            return None
        doc = flow.hello if role == "initiator" else flow.accept
        try:
            secret, _ = ephemeral(pkg.contents.seed)
            shared = x25519_shared(secret, bytes.fromhex(str(doc.get("ephemeral"))))
        except (ValueError, BlindmatchError):
            return None
        idx = next(i for i, msg in enumerate(flow.messages) if msg.header.msg_type == T_ACCEPT)
        return traffic_keys(shared, flow.hashes[idx])

    return keys


def _side_report(
    role: str, res: SideAudit | None, findings: list[Finding], own: OpenedPackage | None, flow: Flow,
    *, pending: bool,
) -> SideReport:  # fmt: skip
    if res is None and own is None and pending:
        return SideReport(role, "pending")
    rate = flow.manifest.audit.rate_ppm if flow.manifest.audit is not None else 0
    return SideReport(
        role,
        "findings" if findings else "clean",
        tuple(findings),
        res.seed_digest if res is not None else None,
        tuple(res.sketch) if res is not None else (),
        selected_for_audit(own.contents.seed, flow.final_hash, rate) if own is not None else None,
    )


def audit(
    auditor: Identity,
    packages: Sequence[bytes],
    records: Sequence[Mapping[str, Any] | str | bytes] = (),
    *,
    now: float | None = None,
    seen_seeds: Collection[bytes] = (),
    seen_elements: Collection[bytes] = (),
    clock: Callable[[], float] = time.time,
) -> AuditReport:
    """Audit one session from its packages (one per side; a missing one is a finding once the manifest's
    deadline has passed, else the side is ``pending``) and the parties' records.

    ``seen_seeds`` / ``seen_elements``: seed digests and element digests kept from earlier audits (the
    report's ``seed_digest`` and ``element_sketch``), to find reuse. Raises :class:`InvalidAuditPackage`
    for a package that is malformed, altered or forged (its signature does not verify), that belongs to
    another session, or when no package opens at all; a party-signed package that does not open for this
    auditor is the finding ``package-unopenable``.
    """
    now = clock() if now is None else now
    found: dict[str, list[Finding]] = {r: [] for r in ROLES}
    opened, unopenable = _open_all(auditor, packages, found)
    flow = _reference(opened, found)
    m = flow.manifest
    for role, pkg in opened.items():  # the author must be the manifest's party of that role
        key = m.initiator_key if role == "initiator" else m.responder_key
        if pkg.author.raw != key:
            raise InvalidAuditPackage(f"the {role}'s package is not signed by the session's {role}")
    recs = _records(records)
    results = {
        role: audit_side(role, flow, pkg, recs.get(role), seen_seeds=seen_seeds, seen_elements=seen_elements,
                         peer_keys=_peer_keys(flow, opened, role))
        for role, pkg in opened.items()
    }  # fmt: skip
    deadline = _session_end(recs, flow) + (m.audit.deadline_s if m.audit is not None else 0)
    sides: dict[str, SideReport] = {}
    for role in ROLES:
        res = results.get(role)
        findings = found[role] + (res.findings if res is not None else [])
        missing = res is None and role not in unopenable
        if missing and now > deadline:
            findings.append(
                _finding("package-missing", role, None, "no package was handed over by the deadline")
            )
        sides[role] = _side_report(
            role, res, findings, opened.get(role), flow, pending=missing and now <= deadline
        )
    return AuditReport(m.session_id, flow.final_hash, m.mode, auditor.public, now, sides)
