"""save_state()/restore_state(): a party resumes after a step, bound to its parameters, holding no items."""

from __future__ import annotations

import json
from typing import Any

import pytest
from session_support import ALICE, BOB, Clock, make_parties, step, trust

from blindmatch.errors import InvalidParameter, LocalProtocolError, MalformedFile
from blindmatch.psi._base import _Party as PsiParty
from blindmatch.session import (
    InitiatorSession,
    Policy,
    Replayed,
    ResponderSession,
    SessionState,
    WrongSession,
)

A_ITEMS = {"email": [f"user{i}@example.org" for i in range(10)]}
B_ITEMS = {"email": [f"user{i}@example.org" for i in range(5, 20)]}


def _init_args(clock: Clock, items: Any = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (ALICE, BOB.public), {"items_by_kind": items or A_ITEMS, "clock": clock}


def _resp_args(clock: Clock, items: Any = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    policy = Policy(max_items_responder=64)
    return (BOB, trust(("alice", ALICE)), policy), {"items_by_kind": items or B_ITEMS, "clock": clock}


@pytest.mark.parametrize("mode", ["intersection", "mutual"])
def test_both_roles_resume_after_every_step_with_identical_bytes(mode: str) -> None:
    reference = step(*make_parties(A_ITEMS, B_ITEMS, mode=mode))
    clock = Clock()
    init, resp = make_parties(A_ITEMS, B_ITEMS, mode=mode, clock=clock)
    wire = [init.start()]
    parties: list[InitiatorSession | ResponderSession] = [resp, init]
    k = 0
    while True:
        receiver = parties[k % 2]
        out = receiver.receive(wire[-1])
        if not receiver.done:
            cls = type(receiver)
            args, kw = _init_args(clock) if cls is InitiatorSession else _resp_args(clock)
            restored = cls.restore_state(receiver.save_state(), *args, **kw)
            assert restored.state is receiver.state
            assert restored.transcript_hash == receiver.transcript_hash
            assert restored.receive(wire[-1]) == out  # the message consumed last, re-fed: the same output
            parties[k % 2] = restored
        if out is None:
            break
        wire.append(out)
        k += 1
    assert wire == reference
    assert all(p.done for p in parties)


def test_a_different_message_after_restore_raises() -> None:
    clock = Clock()
    other = step(*make_parties(A_ITEMS, B_ITEMS, mode="mutual", seed=b"other", clock=clock))
    init, resp = make_parties(A_ITEMS, B_ITEMS, mode="mutual", clock=clock)
    hello = init.start()
    resp.receive(hello)
    args, kw = _resp_args(clock)
    restored = ResponderSession.restore_state(resp.save_state(), *args, **kw)
    altered = hello[:-1] + bytes([hello[-1] ^ 1])  # the same hello but for one bit of its signature
    with pytest.raises(Replayed):
        restored.receive(altered)
    assert restored.failed
    again = ResponderSession.restore_state(resp.save_state(), *args, **kw)
    with pytest.raises(WrongSession):
        again.receive(other[0])  # another session's hello


def test_state_is_bound_to_the_parameters_and_shows_no_item() -> None:
    clock = Clock()
    init, _ = make_parties(A_ITEMS, B_ITEMS, clock=clock)
    init.start()
    state = init.save_state()
    text = state.decode()
    assert "example.org" not in text and "user1" not in text
    doc = json.loads(state)
    assert doc["format"] == "blindmatch-session-state" and doc["version"] == 1 and doc["role"] == "initiator"
    args, kw = _init_args(clock, {"email": ["someone@else.org"]})
    with pytest.raises(InvalidParameter):
        InitiatorSession.restore_state(state, *args, **kw)
    with pytest.raises(InvalidParameter):  # a state of the other role
        ResponderSession.restore_state(state, *_resp_args(clock)[0], **_resp_args(clock)[1])
    with pytest.raises(InvalidParameter):  # another version
        InitiatorSession.restore_state(json.dumps({**doc, "version": 2}).encode(), *_init_args(clock)[0],
                                       **_init_args(clock)[1])  # fmt: skip
    with pytest.raises(MalformedFile):
        InitiatorSession.restore_state(b"{", *_init_args(clock)[0], **_init_args(clock)[1])
    ok = InitiatorSession.restore_state(state, *_init_args(clock)[0], **_init_args(clock)[1])
    assert ok.state is SessionState.AWAIT_ACCEPT


def test_nothing_to_save_before_a_step_or_after_the_end() -> None:
    init, resp = make_parties()
    with pytest.raises(LocalProtocolError):
        init.save_state()
    with pytest.raises(LocalProtocolError):
        resp.save_state()
    step(init, resp)
    with pytest.raises(LocalProtocolError):
        init.save_state()


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_restore_uses_the_psi_partys_own_state_and_redoes_no_psi_work(role: str, monkeypatch: Any) -> None:
    clock = Clock()
    init, resp = make_parties(A_ITEMS, B_ITEMS, mode="mutual", clock=clock)
    hello = init.start()
    accept = resp.receive(hello) or b""
    request = init.receive(accept) or b""
    response = resp.receive(request) or b""
    party = init if role == "initiator" else resp
    state = party.save_state()
    doc = json.loads(state)
    assert doc["psi"] and (doc["psi_request"] is not None) == (role == "initiator")

    def no_blinding(self: Any, scalar: bytes, order: list[bytes]) -> list[bytes]:
        raise AssertionError("PSI blinding redone on restore")

    monkeypatch.setattr(PsiParty, "_blind_own", no_blinding)
    if role == "initiator":
        restored: InitiatorSession | ResponderSession = InitiatorSession.restore_state(
            state, *_init_args(clock)[0], **_init_args(clock)[1]
        )
        assert restored.receive(accept) == request
    else:
        restored = ResponderSession.restore_state(state, *_resp_args(clock)[0], **_resp_args(clock)[1])
        assert restored.receive(request) == response
    monkeypatch.undo()
    assert restored.state is party.state and restored.transcript_hash == party.transcript_hash
