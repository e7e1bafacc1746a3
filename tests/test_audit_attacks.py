"""Every cheating strategy of tests/audit_attacks.py, run against an unmodified honest party in an audited
session, is caught by the audit with its own finding on the cheater's side, while the honest side audits
clean (issue 12, item 6)."""

from __future__ import annotations

import hashlib

import audit_attacks
import pytest
from audit_attacks import ATTACKS

from blindmatch import audit
from blindmatch.session import AuditTerms, Identity

AUDITOR = Identity.from_seed(hashlib.sha256(b"attack auditor").digest())
TERMS = AuditTerms(AUDITOR.public.raw, rate_ppm=10_000)

#: The finding each strategy must raise on the cheater's side.
EXPECTED = {
    "per-item-scalars-initiator": "foreign-scalar",
    "per-item-scalars-responder": "foreign-scalar",
    "forged-hashes-responder": "forged-comparison-hashes",
    "lying-confirm-initiator": "false-confirm",
    "swapped-set-initiator": "set-substituted",
    "swapped-set-responder": "set-substituted",
    "guesses-as-dummies-initiator": "dummies-replaced",
    "guesses-as-dummies-responder": "dummies-replaced",
    "reused-scalar-initiator": "foreign-scalar",  # alone; with the earlier session's audit: scalar-reused
    "reused-scalar-responder": "foreign-scalar",
}
CASES = [(name, mode) for name, a in ATTACKS.items() for mode in a.modes]


@pytest.fixture(autouse=True)
def _audited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_attacks, "AUDIT", TERMS)


def _audit(run: audit_attacks.AttackRun, **kw: object):  # type: ignore[no-untyped-def]
    parties = (run.initiator, run.responder)
    packages = [p.audit_package() for p in parties]
    assert all(pkg is not None for pkg in packages)
    return audit(AUDITOR, packages, [p.record() for p in parties], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}/{m}" for n, m in CASES])
def test_each_cheat_is_caught_with_its_own_finding(name: str, mode: str) -> None:
    attack = ATTACKS[name]
    run = attack.run(mode)
    assert (
        run.initiator.record()["outcome"]["status"]
        == run.responder.record()["outcome"]["status"]
        == "completed"
    )
    report = _audit(run)
    cheater = report.sides[attack.role]
    honest = report.sides["responder" if attack.role == "initiator" else "initiator"]
    assert cheater.status == "findings"
    codes = [f.code for f in cheater.findings]
    assert codes[0] == EXPECTED[name], codes
    first = cheater.findings[0]
    assert first.message_index is not None and first.could_gain
    assert honest.status == "clean", honest.findings


@pytest.mark.parametrize("name", ["reused-scalar-initiator", "reused-scalar-responder"])
def test_a_reused_scalar_is_found_from_an_earlier_audit(name: str) -> None:
    attack = ATTACKS[name]
    first = _audit(attack.run("intersection", seed=b"monday"))
    side = first.sides[attack.role]
    later = _audit(attack.run("intersection", seed=b"tuesday"), seen_elements=set(side.sketch))
    codes = {f.code for f in later.sides[attack.role].findings}
    assert "scalar-reused" in codes
    honest_role = "responder" if attack.role == "initiator" else "initiator"
    assert later.sides[honest_role].status == "clean"  # fresh scalars never collide


def test_per_item_attack_in_count_only_mode_says_what_it_gains() -> None:
    report = _audit(ATTACKS["per-item-scalars-initiator"].run("cardinality"))
    finding = report.sides["initiator"].findings[0]
    assert "which of its items matched" in finding.could_gain
    assert finding.message_index == 2  # the PSI request
