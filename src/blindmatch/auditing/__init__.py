"""Audits: re-execute both sides of an audited session from their escrowed packages (docs/audit.md).
``blindmatch.audit`` is :func:`audit`; this module holds the rest.

``audit(auditor, packages, records)`` opens each package with the auditor's identity, verifies the
transcript, opens each side's commitment and re-executes every PSI payload the side sent from its
committed seed and list against the peer's payloads as actually sent, checks both records, and reports
findings from the fixed list :data:`FINDINGS`. ``sign_audit_report`` / ``verify_audit_report`` make and
check the auditor's signed report. ``selected_for_audit`` is a side's routine-audit coin.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ..errors import BlindmatchError, InvalidParameter
from ..session._seeded import ephemeral
from ..session.audit_package import OpenedPackage, open_package, read_package_header
from ..session.channel import T_ACCEPT, traffic_keys, x25519_shared
from ..session.commitment import selected_for_audit
from ..session.errors import InvalidAuditPackage, InvalidRecord
from ..session.identity import Identity
from ..session.manifest import Manifest
from ..session.record import verify_record
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


def _record_of(
    records: Sequence[Mapping[str, Any] | str | bytes], role: str, m: Manifest
) -> dict[str, Any] | None:
    """The first record that verifies under ``role``'s key for this session (others are ignored)."""
    key = m.initiator_key if role == "initiator" else m.responder_key
    for r in records:
        try:
            doc = verify_record(r, key, session_id=m.session_id)
        except (InvalidRecord, InvalidParameter, TypeError, ValueError, AttributeError, RecursionError):
            continue
        if doc.get("role") == role:
            return doc
    return None


def _author_ok(pkg: OpenedPackage, m: Manifest) -> bool:
    key = m.initiator_key if pkg.role == "initiator" else m.responder_key
    return pkg.author.raw == key and pkg.session_id == m.session_id


def _commitment_in(flow: Flow, role: str) -> str | None:
    doc = flow.hello if role == "initiator" else flow.accept
    value = doc.get("commitment") if doc is not None else None
    return value if isinstance(value, str) else None


def _peer_keys(opened: dict[str, OpenedPackage], role: str) -> Callable[[Flow], tuple[bytes, bytes] | None]:
    """The traffic keys the *peer's* seed gives in a copy (to read it when ``role``'s keys are unusable)."""

    def keys(flow: Flow) -> tuple[bytes, bytes] | None:
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


class _Packages:
    """The packages handed over, sorted out: each side's own (signed by the manifest's party of its role)
    with its own copy of the transcript when that verifies; the rest set aside with a note."""

    def __init__(self, auditor: Identity, packages: Sequence[bytes]) -> None:
        self.found: dict[str, list[Finding]] = {r: [] for r in ROLES}
        self.notes: list[str] = []
        self.own: dict[str, OpenedPackage] = {}
        self.flows: dict[str, Flow] = {}
        heads = [(data, read_package_header(data)) for data in packages]  # tampered or forged: raises here
        if len({h.session_id for _, h in heads}) > 1:
            raise InvalidAuditPackage("the packages belong to different sessions")
        opened: list[tuple[OpenedPackage, Flow | TranscriptProblem]] = []
        unopened = []
        for data, head in heads:
            try:
                pkg = open_package(data, auditor)
            except InvalidAuditPackage as exc:
                unopened.append((head, str(exc)))
                continue
            try:
                opened.append((pkg, read_flow(pkg.contents.transcript)))
            except TranscriptProblem as exc:
                opened.append((pkg, exc))
        if not opened:
            raise InvalidAuditPackage("no package opens with this auditor's key: nothing to audit")
        self.manifest = self._manifest(opened, auditor)
        for pkg, flow in opened:
            self._take(pkg, flow)
        for head, why in unopened:
            key = self.manifest.initiator_key if head.role == "initiator" else self.manifest.responder_key
            if head.author.raw == key and head.role not in self.own and head.role not in self.unopenable:
                self.unopenable.add(head.role)
                self.found[head.role].append(_finding("package-unopenable", head.role, None, why))
            else:
                self.notes.append(
                    f"set aside an unopenable {head.role} package signed by {head.author.fingerprint}"
                )

    unopenable: set[str]

    @staticmethod
    def _manifest(
        opened: list[tuple[OpenedPackage, Flow | TranscriptProblem]], auditor: Identity
    ) -> Manifest:
        for pkg, flow in opened:
            if isinstance(flow, Flow) and _author_ok(pkg, flow.manifest):
                m = flow.manifest
                if m.audit is None or not hmac.compare_digest(m.audit.auditor, auditor.public.raw):
                    raise InvalidAuditPackage("the session's manifest does not name this auditor")
                return m
        raise InvalidAuditPackage("no package of a session party holds a transcript that verifies")

    def _take(self, pkg: OpenedPackage, flow: Flow | TranscriptProblem) -> None:
        m = self.manifest
        self.unopenable = getattr(self, "unopenable", set())
        if not _author_ok(pkg, m):
            self.notes.append(f"set aside a {pkg.role} package signed by {pkg.author.fingerprint}")
            return
        if pkg.role in self.own:
            self.notes.append(f"set aside a second {pkg.role} package")
            return
        self.own[pkg.role] = pkg
        if isinstance(flow, TranscriptProblem):
            why = f"its package's transcript does not verify: {flow}"
            self.found[pkg.role].append(_finding("transcript-mismatch", pkg.role, flow.index, why))
        elif flow.manifest != m:
            why = "its package holds the transcript of another session"
            self.found[pkg.role].append(_finding("transcript-mismatch", pkg.role, 0, why))
        else:
            self.flows[pkg.role] = flow


def _compare(flows: dict[str, Flow], notes: list[str]) -> bool:
    """Note how the two copies differ; True when one side's copy holds messages the other never got."""
    if len(flows) < 2:
        return False
    a, b = flows["initiator"].messages, flows["responder"].messages
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.wire != y.wire:
            notes.append(
                f"the two copies of the transcript diverge at message {i} (two runs under one session id, "
                "e.g. a replayed hello): each side is checked against every copy of its run"
            )
            return False
    if len(a) != len(b):
        longer = "initiator" if len(a) > len(b) else "responder"
        k = min(len(a), len(b))
        notes.append(f"the {longer}'s copy holds message(s) from {k} on that its peer never received "
                     "(withheld or lost): the peer ended without them")  # fmt: skip
        return True
    return False


def _side_report(
    role: str, res: SideAudit | None, findings: list[Finding], own: OpenedPackage | None, final: bytes,
    rate: int, *, pending: bool,
) -> SideReport:  # fmt: skip
    if res is None and own is None and pending:
        return SideReport(role, "pending")
    return SideReport(
        role,
        "findings" if findings else "clean",
        tuple(findings),
        res.seed_digest if res is not None else None,
        tuple(res.sketch) if res is not None else (),
        selected_for_audit(own.contents.seed, final, rate) if own is not None else None,
    )


def _within(a: Flow, b: Flow) -> bool:
    """Copy ``a`` is ``b`` or ``b`` cut short: checking against ``b`` covers it."""
    n = len(a.messages)
    return n <= len(b.messages) and all(
        x.wire == y.wire for x, y in zip(a.messages, b.messages[:n], strict=True)
    )


def _audit_sides(
    got: _Packages, reference: Flow | None, records: Sequence[Mapping[str, Any] | str | bytes],
    seen_seeds: Collection[bytes], seen_elements: Collection[bytes],
) -> dict[str, SideAudit]:  # fmt: skip
    """Each side with a package, against every verified copy of its run (its own copy first)."""
    m = got.manifest
    results: dict[str, SideAudit] = {}
    for role, pkg in got.own.items():
        mine = got.flows.get(role)
        others = [f for r, f in got.flows.items() if r != role and not (mine and _within(f, mine))]
        committed = pkg.contents.commitment.hex() if pkg.contents.commitment is not None else None
        copies = ([mine] if mine is not None else []) + [
            f for f in others if _commitment_in(f, role) == committed
        ]
        if not copies:
            copies = [reference or next(iter(got.flows.values()))] if got.flows else []
        if not copies:
            continue
        results[role] = audit_side(role, copies, pkg, _record_of(records, role, m),
                                   own_final=mine.final_hash if mine is not None else None,
                                   seen_seeds=seen_seeds, seen_elements=seen_elements,
                                   peer_keys=_peer_keys(got.own, role))  # fmt: skip
    return results


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
    """Audit one session from its packages (one per side) and the parties' records.

    A side's missing package is ``pending`` until the manifest's validity end plus its ``deadline_s``, then
    the finding ``package-missing`` (a responder that never accepted owes none). Each side is re-executed
    against every verified copy of the transcript of its run (its own, and its peer's), so a copy altered
    by one side cannot hide that side's messages nor blame the other. ``seen_seeds`` / ``seen_elements``:
    digests kept from earlier audits (the report's ``seed_digest`` and ``element_sketch``), to find reuse.

    Raises :class:`InvalidAuditPackage` for a package that is malformed, altered or forged, for packages of
    different sessions, when no package of a session party opens and verifies, and when the session's
    manifest does not name this auditor. Packages of anyone else are set aside (a note in the report).
    """
    now = clock() if now is None else now
    got = _Packages(auditor, packages)
    m, notes = got.manifest, got.notes
    undelivered = _compare(got.flows, notes)
    reference = max(got.flows.values(), key=lambda f: len(f.messages)) if got.flows else None
    results = _audit_sides(got, reference, records, seen_seeds, seen_elements)
    terms = m.audit
    if terms is None:  # pragma: no cover - checked in _Packages
        raise InvalidAuditPackage("the session's manifest names no auditor")
    deadline = m.not_after + terms.deadline_s
    accepted = any(f.accept is not None for f in got.flows.values())
    sides: dict[str, SideReport] = {}
    for role in ROLES:
        res = results.get(role)
        findings = got.found[role] + (res.findings if res is not None else [])
        missing = res is None and role not in got.unopenable
        if missing and role == "responder" and not accepted:
            notes.append("the responder never accepted: it owes no package")
            missing = False
        elif missing and now > deadline:
            findings.append(
                _finding("package-missing", role, None, "no package was handed over by the deadline")
            )
        own_flow = got.flows.get(role) or reference
        final = own_flow.final_hash if own_flow is not None else b"\x00" * 32
        sides[role] = _side_report(role, res, findings, got.own.get(role), final, terms.rate_ppm,
                                   pending=missing and now <= deadline)  # fmt: skip
    th = reference.final_hash if reference is not None else b"\x00" * 32
    return AuditReport(m.session_id, th, m.mode, auditor.public, now, sides, tuple(notes), undelivered)
