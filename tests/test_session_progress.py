"""Sessions pass their progress callback to the PSI party: no byte changes; its errors fail the session."""

from __future__ import annotations

import pytest
from session_support import ALICE, BOB, Clock, make_parties, seeded_rng, step, trust

from blindmatch.psi import STAGES
from blindmatch.session import Policy, ResponderSession


def test_callback_reports_and_changes_no_byte() -> None:
    calls: list[tuple[str, int, int]] = []
    init, resp = make_parties(mode="mutual", progress=lambda *c: calls.append(c))
    wire = step(init, resp)
    init2, resp2 = make_parties(mode="mutual")
    assert step(init2, resp2) == wire
    assert init.result is not None and init2.result is not None
    assert init.result.matched == init2.result.matched
    # only the initiator's callback was given: its three stages, each ending with done == total
    assert [c[0] for c in calls if c[1] == c[2]] == list(STAGES)
    padded = 16  # 10 items padded to the next power of two
    assert ("blind own set", padded, padded) in calls


def test_responder_callback() -> None:
    calls: list[tuple[str, int, int]] = []
    init, _ = make_parties()
    resp = ResponderSession(
        BOB, trust(("alice", ALICE)), Policy(max_items_responder=64),
        items_by_kind={"email": [f"user{i}@example.org" for i in range(5, 20)]},
        rng=seeded_rng(b"resp" + b"s"), clock=Clock(), progress=lambda *c: calls.append(c),
    )  # fmt: skip
    step(init, resp)
    assert [c[0] for c in calls if c[1] == c[2]] == ["blind own set", "blind peer set"]


def test_raising_callback_fails_the_session() -> None:
    class Cancel(Exception):
        pass

    def cb(stage: str, done: int, total: int) -> None:
        raise Cancel("stop")

    init, resp = make_parties(progress=cb)
    hello = init.start()
    accept = resp.receive(hello)
    assert accept is not None
    with pytest.raises(Cancel):
        init.receive(accept)
    assert init.record()["outcome"]["status"] == "failed"
    with pytest.raises(Exception, match="failed"):
        init.receive(accept)
