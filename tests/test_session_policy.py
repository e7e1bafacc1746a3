"""The responder's accept/refuse decision depends only on the manifest and its public policy, and the
daily budget is charged for every verified hello, refused ones included (so probing is not free)."""

from __future__ import annotations

from session_support import ALICE, BOB

from blindmatch.cli._session_io import BudgetPolicy
from blindmatch.session import Manifest, Policy
from blindmatch.transport import DailySessionBudget


def _manifest(cap_r: int, padding: str = "pow2") -> Manifest:
    return Manifest.propose(initiator=ALICE.public, responder=BOB.public, mode="intersection",
                            kinds=["email"], max_items=(64, cap_r), padding=padding, purpose="t",
                            clock=lambda: 1_800_000_000.0)  # fmt: skip


def test_policy_refusal_takes_no_set_size() -> None:
    policy = Policy(max_items_responder=48)
    assert policy.refusal(_manifest(48), "alice") is None
    assert policy.refusal(_manifest(64), "alice") is None  # pow2 padding stays under 2 x our cap
    assert "below" in (policy.refusal(_manifest(47), "alice") or "")
    assert "pad our set with 'cap'" in (policy.refusal(_manifest(64, "cap"), "alice") or "")
    assert policy.refusal(_manifest(48, "cap"), "alice") is None


def test_budget_is_charged_for_refused_hellos_too() -> None:
    budget = DailySessionBudget(2, clock=lambda: 1_800_000_000.0)
    policy = BudgetPolicy(max_items_responder=48, budget=budget)
    assert "below" in (policy.refusal(_manifest(8), "alice") or "")  # a probe: refused, but charged
    assert budget.used("alice") == 1
    assert "below" in (policy.refusal(_manifest(16), "alice") or "")
    assert budget.used("alice") == 2
    assert "budget" in (policy.refusal(_manifest(48), "alice") or "")  # even a good proposal now
    assert budget.used("bob") == 0
