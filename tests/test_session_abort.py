"""Aborting a session: a dead party, a signed ``failed`` record with the reason, and the TCP driver aborting
sessions whose connection fails (peer disconnects, stalls, sends an oversized frame, overruns the session
timeout)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from session_support import ALICE, BOB, make_parties, step, trust

from blindmatch.errors import InvalidParameter, LocalProtocolError
from blindmatch.session import InitiatorSession, ResponderSession, verify_record
from blindmatch.session._phases import Established
from blindmatch.transport import (
    FrameTooLarge,
    PeerDisconnected,
    PeerTimeout,
    Server,
    connect_and_run,
)

T = TypeVar("T")
A_ITEMS = {"email": [f"secret-a{i}@example.org" for i in range(6)] + ["shared@example.org"]}
B_ITEMS = {"email": [f"secret-b{i}@example.org" for i in range(6)] + ["shared@example.org"]}
SECRETS = ("secret-a", "secret-b", "shared@")


def _check_failed_record(party: InitiatorSession | ResponderSession, reason: str) -> dict[str, Any]:
    assert party.done and party.failed and party.result is None
    rec = party.record()
    ident = ALICE if party.role == "initiator" else BOB
    doc = verify_record(json.dumps(rec), ident.public)
    assert doc["outcome"] == {"status": "failed", "error": "aborted", "reason": reason}
    assert doc["learned"]["initiator"]["count"] is None and doc["learned"]["responder"]["count"] is None
    text = json.dumps(rec)
    for s in SECRETS:
        assert s not in text  # no indicator in the record
    return doc


def _check_dead(party: InitiatorSession | ResponderSession) -> None:
    with pytest.raises(LocalProtocolError):
        party.receive(b"\x00" * 100)
    with pytest.raises(LocalProtocolError):
        party.abort("again")
    if isinstance(party, InitiatorSession):
        with pytest.raises(LocalProtocolError):
            party.start()


@pytest.mark.parametrize("after", [0, 1, 2, 3])
def test_abort_at_every_step_mutual(after: int) -> None:
    """Abort each party after ``after`` messages of a mutual session: both stay dead, records verify."""
    init, resp = make_parties(A_ITEMS, B_ITEMS, mode="mutual")
    wire = [init.start()]
    parties: list[InitiatorSession | ResponderSession] = [resp, init]
    for i in range(after):
        out = parties[i % 2].receive(wire[-1])
        assert out is not None
        wire.append(out)
    for p in (init, resp):
        if p is resp and after == 0:
            continue  # the responder has seen nothing yet: checked below
        p.abort("the peer went away\nmidway")
        doc = _check_failed_record(p, "the peer went away midway")
        last_sent_by_init = after % 2 == 0
        assert doc["messages"] == after + (1 if last_sent_by_init == (p is init) else 0)
        assert doc["own_set_sent"] is (after >= (2 if p is init else 3))
        _check_dead(p)


def test_abort_before_anything() -> None:
    init, resp = make_parties(A_ITEMS, B_ITEMS)
    resp.abort("server shutting down")
    rec = verify_record(json.dumps(resp.record()), BOB.public)
    assert rec["outcome"]["status"] == "failed" and rec["session_id"] is None
    _check_dead(resp)
    init.abort("gave up before starting")  # a never-started initiator: the record names the manifest
    rec = _check_failed_record(init, "gave up before starting")
    assert rec["own_set_sent"] is False and rec["messages"] == 0
    _check_dead(init)


def test_abort_after_completion_or_failure_is_refused() -> None:
    init, resp = make_parties(A_ITEMS, B_ITEMS)
    step(init, resp)
    for p in (init, resp):
        with pytest.raises(LocalProtocolError):
            p.abort("too late")
        assert (
            verify_record(json.dumps(p.record()), (ALICE if p is init else BOB).public)["outcome"]["status"]
            == "completed"
        )
    init, resp = make_parties(A_ITEMS, B_ITEMS)
    with pytest.raises(InvalidParameter):
        init.abort("")
    with pytest.raises(InvalidParameter):
        init.abort(None)  # type: ignore[arg-type]


def test_abort_drops_the_secrets() -> None:
    init, resp = make_parties(A_ITEMS, B_ITEMS, mode="mutual")
    m1 = init.start()
    m2 = resp.receive(m1)
    assert m2 is not None
    m3 = init.receive(m2)
    assert m3 is not None
    for p in (init, resp):  # keys and the PSI party live in the phase's working data
        assert isinstance(p._work, Established)
    init.abort("stop")
    resp.abort("stop")
    for p in (init, resp):
        assert p._work is None


# ---- over TCP ----------------------------------------------------------------------------------------


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro, 20)

    return asyncio.run(main())


async def _fake_peer(behaviour: str) -> tuple[asyncio.Server, int]:
    """Reads the first frame, then closes / stalls / announces a huge frame."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = int.from_bytes(await reader.readexactly(4), "big")
        await reader.readexactly(n)
        if behaviour == "close":
            writer.write(b"\x00\x00\x01\x00partial")
        elif behaviour == "huge":
            writer.write(b"\xff\xff\xff\xff")
        elif behaviour == "stall":
            await asyncio.sleep(3)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, int(srv.sockets[0].getsockname()[1])


@pytest.mark.parametrize(
    ("behaviour", "exc", "words"),
    [
        ("close", PeerDisconnected, "closed the connection"),
        ("huge", FrameTooLarge, "frame"),
        ("stall", PeerTimeout, "no data from the peer"),
    ],
)
def test_initiator_aborted_when_the_connection_fails(
    behaviour: str, exc: type[Exception], words: str
) -> None:
    init, _ = make_parties(A_ITEMS, B_ITEMS, clock=None)

    async def main() -> None:
        srv, port = await _fake_peer(behaviour)
        try:
            with pytest.raises(exc):
                await connect_and_run(init, "127.0.0.1", port, timeout=0.3, max_frame=1 << 20)
        finally:
            srv.close()

    run(main())
    doc = _check_failed_record(init, init.record()["outcome"]["reason"])
    assert doc["outcome"]["reason"].startswith(exc.__name__) and words in doc["outcome"]["reason"]
    assert doc["own_set_sent"] is False and doc["messages"] == 1
    _check_dead(init)


def _responder_factory(parties: list[ResponderSession]) -> Callable[[str], ResponderSession]:
    def factory(_addr: str) -> ResponderSession:
        _, resp = make_parties(A_ITEMS, B_ITEMS, peers=trust(("alice", ALICE)))
        parties.append(resp)
        return resp

    return factory


@pytest.mark.parametrize("session_timeout", [None, 0.3])
def test_responder_aborted_when_the_initiator_leaves(session_timeout: float | None) -> None:
    """The initiator sends its hello then goes silent (per-read timeout, or the whole-session timeout);
    a connection that never sent anything leaves no record."""
    parties: list[ResponderSession] = []
    init, _ = make_parties(A_ITEMS, B_ITEMS)
    hello = init.start()

    async def main() -> Server:
        server = Server(
            _responder_factory(parties), port=0, max_sessions=1,  # the empty connection does not count
            timeout=0.3 if session_timeout is None else 5, session_timeout=session_timeout,
        )  # fmt: skip
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.close()  # nothing sent: no session began
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(len(hello).to_bytes(4, "big") + hello)
        await w.drain()
        await r.readexactly(4)  # the accept's frame header arrives; then we stall
        await task
        w.close()
        return server

    server = run(main())
    assert len(server.outcomes) == 2
    by_done = sorted(parties, key=lambda p: p.done)
    assert not by_done[0].done  # the empty connection: the party never began, no record
    doc = _check_failed_record(by_done[1], by_done[1].record()["outcome"]["reason"])
    assert doc["outcome"]["reason"].startswith("PeerTimeout")
    assert doc["own_set_sent"] is False and doc["peer"]["name"] == "alice"
