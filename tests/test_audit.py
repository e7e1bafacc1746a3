"""Audits of audited sessions (issue 12, docs/audit.md): honest sessions in every mode audit clean; the
packages are sealed to the named auditor, signed, and named by hash in their author's record."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from session_support import ALICE, BOB, CAROL, Clock, make_parties, seeded_rng, step, trust

from blindmatch import audit, sign_audit_report, verify_audit_report
from blindmatch.auditing import FINDINGS, InvalidAuditReport
from blindmatch.psi import MODES
from blindmatch.session import (
    AuditTerms,
    Identity,
    InitiatorSession,
    InvalidAuditPackage,
    Policy,
    ResponderSession,
    open_package,
)

AUDITOR = Identity.from_seed(hashlib.sha256(b"auditor").digest())
TERMS = AuditTerms(AUDITOR.public.raw, rate_ppm=500_000, deadline_s=7 * 86400)


def audited(mode: str = "intersection", **kw: object) -> tuple[object, object]:
    policy = kw.pop("policy", Policy(auditor=AUDITOR.public.raw))
    init, resp = make_parties(mode=mode, audit=TERMS, policy=policy, **kw)  # type: ignore[arg-type]
    step(init, resp)
    return init, resp


@pytest.mark.parametrize("mode", MODES)
def test_honest_sessions_audit_clean(mode: str) -> None:
    init, resp = audited(mode)
    packages = [init.audit_package(), resp.audit_package()]  # type: ignore[attr-defined]
    assert all(p is not None for p in packages)
    records = [init.record(), resp.record()]  # type: ignore[attr-defined]
    for party, pkg, rec in zip((init, resp), packages, records, strict=True):
        assert pkg == party.audit_package()  # type: ignore[attr-defined]  # made once
        assert rec["audit"]["package_sha256"] == hashlib.sha256(pkg).hexdigest()
        assert rec["audit"]["auditor"] == AUDITOR.public.to_text()
    report = audit(AUDITOR, packages, records)  # type: ignore[arg-type]
    assert report.clean, report.findings
    assert report.verdict == "clean" and set(report.sides) == {"initiator", "responder"}
    signed = sign_audit_report(AUDITOR, report)
    assert verify_audit_report(signed, AUDITOR.public)["verdict"] == "clean"
    signed["verdict"] = "findings"
    with pytest.raises(InvalidAuditReport):
        verify_audit_report(signed, AUDITOR.public)


def test_packages_open_only_for_the_auditor_and_refuse_tampering() -> None:
    init, resp = audited()
    pkg = init.audit_package()  # type: ignore[attr-defined]
    assert open_package(pkg, AUDITOR).contents.role == "initiator"
    with pytest.raises(InvalidAuditPackage, match="another auditor"):
        open_package(pkg, CAROL)
    bad = bytearray(pkg)
    bad[bad.index(b'"sealed":"') + 20] ^= 0x01
    with pytest.raises(InvalidAuditPackage):
        open_package(bytes(bad), AUDITOR)
    with pytest.raises(InvalidAuditPackage):
        audit(AUDITOR, [bytes(bad), resp.audit_package()])  # type: ignore[attr-defined]


def test_a_missing_package_is_pending_then_a_finding() -> None:
    init, resp = audited()
    records = [init.record(), resp.record()]  # type: ignore[attr-defined]
    pkg = [init.audit_package()]  # type: ignore[attr-defined]
    now = init.record()["times"]  # type: ignore[attr-defined]
    assert now is not None
    early = audit(AUDITOR, pkg, records, now=1_800_000_000.0 + 3600)
    assert early.sides["responder"].status == "pending" and early.verdict == "pending"
    late = audit(AUDITOR, pkg, records, now=1_800_000_000.0 + 8 * 86400)
    assert [f.code for f in late.sides["responder"].findings] == ["package-missing"]
    assert late.sides["initiator"].status == "clean"


def test_policy_and_manifest_must_name_the_same_auditor() -> None:
    init, resp = make_parties(audit=TERMS)  # the responder names no auditor
    step_out = resp.receive(init.start())
    assert step_out is not None and resp.refusal_reason is not None and "not offered" in resp.refusal_reason
    assert resp.audit_package() is None  # refused: it never agreed to escrow
    init, resp = make_parties(policy=Policy(auditor=AUDITOR.public.raw))
    resp.receive(init.start())
    assert resp.refusal_reason is not None and "only audited" in resp.refusal_reason
    other = AuditTerms(CAROL.public.raw)
    init, resp = make_parties(audit=other, policy=Policy(auditor=AUDITOR.public.raw))
    resp.receive(init.start())
    assert resp.refusal_reason is not None and "is not ours" in resp.refusal_reason


def test_findings_are_a_fixed_list() -> None:
    expected = {"foreign-scalar", "forged-comparison-hashes", "false-confirm", "set-substituted",
                "dummies-replaced", "scalar-reused", "seed-reused", "package-missing"}  # fmt: skip
    assert expected <= set(FINDINGS)
    assert dataclasses.is_dataclass(TERMS) and ALICE != BOB


def test_a_seed_seen_in_an_earlier_audit_is_a_finding() -> None:
    def session(init_seed: bytes) -> tuple[InitiatorSession, ResponderSession]:
        clock = Clock()
        init = InitiatorSession(ALICE, BOB.public, items_by_kind={"email": ["a@x.org", "b@x.org"]},
                                max_items=8, purpose="t", audit=TERMS, rng=seeded_rng(init_seed),
                                clock=clock)  # fmt: skip
        policy = Policy(max_items_responder=8, auditor=AUDITOR.public.raw)
        resp = ResponderSession(BOB, trust(("alice", ALICE)), policy, items_by_kind={"email": ["b@x.org"]},
                                rng=seeded_rng(b"same responder seed"), clock=clock)  # fmt: skip
        step(init, resp)
        return init, resp

    def report(parties: tuple[InitiatorSession, ResponderSession], **kw: object):  # type: ignore[no-untyped-def]
        pk = [p.audit_package() for p in parties]
        return audit(AUDITOR, pk, [p.record() for p in parties], **kw)  # type: ignore[arg-type]

    first = report(session(b"monday"))
    assert first.clean
    digest = first.sides["responder"].seed_digest
    later = report(session(b"tuesday"), seen_seeds={digest})
    assert [f.code for f in later.sides["responder"].findings] == ["seed-reused"]
    assert later.sides["initiator"].status == "clean"


def test_an_aborted_session_still_escrows_and_audits() -> None:
    init, resp = make_parties(mode="mutual", audit=TERMS, policy=Policy(auditor=AUDITOR.public.raw))
    accept = resp.receive(init.start())
    assert accept is not None
    request = init.receive(accept)
    assert request is not None
    response = resp.receive(request)
    assert response is not None
    init.receive(response)  # the initiator has its result and keeps the confirm to itself
    resp.abort("the peer stopped answering")
    records = [init.record(), resp.record()]
    assert records[1]["outcome"]["status"] == "failed"
    report = audit(AUDITOR, [init.audit_package(), resp.audit_package()], records)  # type: ignore[list-item]
    assert report.clean, report.findings
    assert report.transcript_hash == init.transcript_hash  # the longer copy: the confirm was sent


def test_routine_audit_coin_is_each_sides_own() -> None:
    from blindmatch.session.commitment import selected_for_audit

    assert selected_for_audit(b"\x01" * 32, b"\x02" * 32, 0) is False
    assert selected_for_audit(b"\x01" * 32, b"\x02" * 32, 1_000_000) is True
    coins = [selected_for_audit(i.to_bytes(32, "big"), b"\x02" * 32, 250_000) for i in range(400)]
    assert 60 < sum(coins) < 140  # about a quarter
    init, resp = audited(seed=b"coin")
    report = audit(AUDITOR, [init.audit_package(), resp.audit_package()], [init.record(), resp.record()])  # type: ignore[attr-defined,list-item]
    assert report.sides["initiator"].selected == init.selected_for_audit  # type: ignore[attr-defined]
    assert report.sides["responder"].selected == resp.selected_for_audit  # type: ignore[attr-defined]
