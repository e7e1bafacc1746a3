"""Audits of audited sessions (issue 12, docs/audit.md): honest sessions in every mode audit clean; the
packages are sealed to the named auditor, signed, and named by hash in their author's record."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from session_support import ALICE, BOB, CAROL, make_parties, step

from blindmatch import audit, sign_audit_report, verify_audit_report
from blindmatch.auditing import FINDINGS, InvalidAuditReport
from blindmatch.psi import MODES
from blindmatch.session import AuditTerms, Identity, InvalidAuditPackage, Policy, open_package

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
