"""The session state machine: the tables in the code, the tables in the docs, and the states parties visit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from session_support import make_parties, step

from blindmatch.errors import LocalProtocolError
from blindmatch.session import InitiatorSession, OutOfOrder, Policy, ResponderSession, SessionState
from blindmatch.session._states import (
    INITIATOR_TABLE,
    RESPONDER_TABLE,
    TERMINAL,
    message_types,
    table_markdown,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "sessions.md"
S = SessionState


@pytest.mark.parametrize(("name", "table"), [("initiator", INITIATOR_TABLE), ("responder", RESPONDER_TABLE)])
def test_docs_show_the_code_tables(name: str, table: object) -> None:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"<!-- states:{name} -->\n(.*?)\n<!-- /states:{name} -->", text, re.S)
    assert found is not None, f"docs/sessions.md lacks the {name} table"
    assert found.group(1) == table_markdown(table)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "table"), [(InitiatorSession, INITIATOR_TABLE), (ResponderSession, RESPONDER_TABLE)]
)
def test_every_handler_exists_and_no_row_leaves_a_terminal_state(cls: type, table: dict) -> None:  # type: ignore[type-arg]
    for (state, _event), move in table.items():
        assert callable(getattr(cls, move.handler))
        assert state not in TERMINAL and move.next
    assert cls._table is table


def _states_of_an_honest_run(mode: str, policy: Policy | None = None) -> tuple[list[S], list[S]]:
    init, resp = make_parties(mode=mode, policy=policy)
    seen_i, seen_r = [init.state], [resp.state]
    msg: bytes | None = init.start()
    seen_i.append(init.state)
    parties = [resp, init]
    k = 0
    while msg is not None:
        receiver = parties[k % 2]
        msg = receiver.receive(msg)
        (seen_r if receiver is resp else seen_i).append(receiver.state)
        k += 1
    return seen_i, seen_r


@pytest.mark.parametrize(
    ("mode", "initiator", "responder"),
    [
        (
            "intersection",
            [S.NEW, S.AWAIT_ACCEPT, S.AWAIT_RESPONSE, S.DONE],
            [S.AWAIT_HELLO, S.AWAIT_REQUEST, S.DONE],
        ),
        (
            "mutual",
            [S.NEW, S.AWAIT_ACCEPT, S.AWAIT_RESPONSE, S.DONE],
            [S.AWAIT_HELLO, S.AWAIT_REQUEST, S.AWAIT_CONFIRM, S.DONE],
        ),
    ],
)
def test_honest_runs_follow_the_table(mode: str, initiator: list[S], responder: list[S]) -> None:
    assert _states_of_an_honest_run(mode) == (initiator, responder)


def test_a_refusal_ends_the_responder_done_and_the_initiator_failed() -> None:
    init, resp = make_parties(policy=Policy(modes=frozenset({"mutual"})))
    refusal = resp.receive(init.start())
    assert resp.state is S.DONE and not resp.failed and refusal is not None
    with pytest.raises(Exception, match="refused"):
        init.receive(refusal)
    assert init.state is S.FAILED


def test_calls_without_a_row_are_local_errors() -> None:
    init, resp = make_parties()
    with pytest.raises(LocalProtocolError):
        resp.start()  # a responder waits for the hello
    with pytest.raises(LocalProtocolError):
        init.receive(b"x")  # before start()
    assert init.state is S.NEW and resp.state is S.AWAIT_HELLO  # local misuse does not kill the party
    hello = init.start()
    with pytest.raises(LocalProtocolError):
        init.start()
    assert init.state is S.AWAIT_ACCEPT
    resp.abort("operator")
    with pytest.raises(LocalProtocolError):
        resp.receive(hello)


def test_messages_without_a_row_are_the_peers_fault() -> None:
    wire = step(*make_parties(mode="mutual"))  # the same seed gives the same session, message for message
    init, resp = make_parties(mode="mutual")
    assert init.start() == wire[0]
    with pytest.raises(OutOfOrder):
        init.receive(wire[3])  # a data message where the table has only accept and refuse
    assert init.state is S.FAILED
    assert resp.receive(wire[0]) == wire[1]
    with pytest.raises(OutOfOrder):
        resp.receive(wire[4])  # the confirm before the request
    assert resp.state is S.FAILED


def test_frame_limit_is_zero_exactly_where_the_table_expects_no_message() -> None:
    init, resp = make_parties(mode="mutual")
    msg: bytes | None = None
    for party in (init, resp, init, resp, init, resp):
        for p, t in ((init, INITIATOR_TABLE), (resp, RESPONDER_TABLE)):
            assert (p.max_next_message == 0) == (not message_types(t, p.state)), p.state
        msg = party.start() if msg is None and party is init else party.receive(msg or b"")
        if msg is None:
            break
    assert init.done and resp.done
