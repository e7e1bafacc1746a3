"""What an unauthenticated TCP client can make a server do: read a 4-byte header of an oversized first
frame and no more, wait at most the handshake timeout, and never count toward ``max_sessions``. Honest
sessions still run in every mode, every frame capped at the exact length the party expects next."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest
from session_support import ALICE, Clock, make_parties, step, trust

from blindmatch.session import MODES, ResponderSession
from blindmatch.session._base import MAX_HANDSHAKE_BODY
from blindmatch.session.channel import HEADER_BYTES, SIGNATURE_BYTES
from blindmatch.transport import FrameTooLarge, PeerTimeout, Server, connect_and_run
from blindmatch.transport.framing import HEADER

T = TypeVar("T")
A = {"email": [f"a{i}@example.org" for i in range(6)] + ["shared@example.org"]}
B = {"email": [f"b{i}@example.org" for i in range(9)] + ["shared@example.org"]}


def run(coro: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await asyncio.wait_for(coro, 30)

    return asyncio.run(wrapped())


def _factory(parties: list[ResponderSession], mode: str = "intersection") -> object:
    def factory(_addr: str) -> ResponderSession:
        _, resp = make_parties(A, B, mode=mode, peers=trust(("alice", ALICE)), clock=Clock())
        parties.append(resp)
        return resp

    return factory


async def _until(server: Server, n: int) -> None:
    while len(server.outcomes) < n:
        await asyncio.sleep(0.01)


def test_max_next_message_is_exact() -> None:
    for mode in MODES:
        init, resp = make_parties(A, B, mode=mode)
        hello_cap = HEADER_BYTES + MAX_HANDSHAKE_BODY + SIGNATURE_BYTES
        assert resp.max_next_message == hello_cap and init.max_next_message == 0
        wire = [init.start()]
        assert init.max_next_message == hello_cap  # awaiting the accept
        parties = [resp, init]
        i = 0
        while True:
            receiver = parties[i % 2]
            limit = receiver.max_next_message
            assert len(wire[-1]) <= limit
            if i >= 2:  # data messages (after hello and accept): exactly the expected length
                assert len(wire[-1]) == limit, (mode, i)
            out = receiver.receive(wire[-1])
            if out is None:
                break
            wire.append(out)
            i += 1
        assert init.done and resp.done and init.max_next_message == resp.max_next_message == 0
        assert wire == step(*make_parties(A, B, mode=mode))


def test_oversized_first_frame_is_cut_off_after_its_header() -> None:
    parties: list[ResponderSession] = []

    async def go() -> Server:
        server = Server(_factory(parties), port=0, max_sessions=1, timeout=5)  # type: ignore[arg-type]
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(64 << 20) + bytes(256 << 10))  # announces 64 MiB, sends 256 KiB
        with_error = None
        try:
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing sent back
        except ConnectionError as exc:
            with_error = exc
        await _until(server, 1)
        server.stop()
        await task
        writer.close()
        del with_error
        return server

    server = run(go())
    (outcome,) = server.outcomes
    assert isinstance(outcome.error, FrameTooLarge) and str(64 << 20) in str(outcome.error)
    assert outcome.bytes_received == HEADER.size  # only the header was read
    assert outcome.bytes_sent == 0 and parties[0].peer_name is None


def test_silent_client_dropped_after_handshake_timeout_and_not_counted() -> None:
    parties: list[ResponderSession] = []
    init, _ = make_parties(A, B, clock=Clock())

    async def go() -> Server:
        server = Server(_factory(parties), port=0, max_sessions=1, timeout=30,  # type: ignore[arg-type]
                        handshake_timeout=0.2)  # fmt: skip
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        _, silent = await asyncio.open_connection("127.0.0.1", port)
        _, junk = await asyncio.open_connection("127.0.0.1", port)
        junk.write(HEADER.pack(5) + b"hello")  # not a hello: never counts
        await _until(server, 2)  # both reported; the silent one after the handshake timeout
        assert not task.done()  # neither counted toward max_sessions=1
        await connect_and_run(init, "127.0.0.1", port, timeout=5)
        await task
        silent.close()
        junk.close()
        return server

    server = run(go())
    errors = [o.error for o in server.outcomes]
    assert any(isinstance(e, PeerTimeout) and "0.2 s" in str(e) for e in errors)
    assert errors[-1] is None and init.result is not None and init.result.count == 1


@pytest.mark.parametrize("mode", MODES)
def test_honest_sessions_over_tcp_in_every_mode(mode: str) -> None:
    parties: list[ResponderSession] = []
    init, _ = make_parties(A, B, mode=mode, clock=Clock())

    async def go() -> Server:
        server = Server(_factory(parties, mode), port=0, max_sessions=1, timeout=5)  # type: ignore[arg-type]
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        await connect_and_run(init, "127.0.0.1", port, timeout=5)
        await task
        return server

    server = run(go())
    assert [o.error for o in server.outcomes] == [None]
    resp = parties[0]
    assert init.result is not None and resp.result is not None
    assert init.result.transcript_hash == resp.result.transcript_hash
    if init.result.learned == "intersection":
        assert init.result.matched == [("email", "shared@example.org")]


def test_replayed_or_expired_hello_is_not_counted_as_authenticated() -> None:
    from session_support import BOB

    from blindmatch.session import Expired, Policy, Replayed

    seen: set[bytes] = set()
    init, _ = make_parties(A, B, clock=Clock())
    hello = init.start()

    def responder(clock: Clock) -> ResponderSession:
        return ResponderSession(BOB, trust(("alice", ALICE)), Policy(max_items_responder=64),
                                items_by_kind=B, seen_session_ids=seen, clock=clock)  # fmt: skip

    first = responder(Clock())
    assert first.receive(hello) is not None and first.peer_name == "alice"
    replay = responder(Clock())
    with pytest.raises(Replayed):
        replay.receive(hello)
    assert replay.peer_name is None  # anyone who saw the hello can replay it: it must not count
    seen.clear()
    late = responder(Clock(Clock().now + 10 * 24 * 3600))
    with pytest.raises(Expired):
        late.receive(hello)
    assert late.peer_name is None


def test_replayed_hellos_over_tcp_do_not_end_the_server() -> None:
    from session_support import BOB

    from blindmatch.session import Policy

    seen: set[bytes] = set()
    parties: list[ResponderSession] = []
    captured, _ = make_parties(A, B, clock=Clock(), seed=b"captured")
    hello = captured.start()
    honest, _ = make_parties(A, B, clock=Clock(), seed=b"honest")

    def factory(_addr: str) -> ResponderSession:
        resp = ResponderSession(BOB, trust(("alice", ALICE)), Policy(max_items_responder=64),
                                items_by_kind=B, seen_session_ids=seen, clock=Clock())  # fmt: skip
        parties.append(resp)
        return resp

    async def replay(port: int, *, first: bool = False) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(len(hello)) + hello)
        await writer.drain()
        if first:  # accepted: read the accept, then walk away
            (length,) = HEADER.unpack(await asyncio.wait_for(reader.readexactly(HEADER.size), 5))
            await asyncio.wait_for(reader.readexactly(length), 5)
        else:  # refused as a replay: the server closes without a word
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    async def go() -> Server:
        server = Server(factory, port=0, max_sessions=2, timeout=5)  # type: ignore[arg-type]
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        await replay(port, first=True)  # the captured hello's first use: accepted, then abandoned (counts)
        for _ in range(3):  # its replays must not count
            await replay(port)
        await _until(server, 4)
        assert not task.done()
        await connect_and_run(honest, "127.0.0.1", port, timeout=5)
        await task
        return server

    server = run(go())
    assert honest.result is not None and honest.result.count == 1
    assert len(server.outcomes) == 5 and server.outcomes[-1].error is None


def _slot_timeouts(server: Server) -> list[object]:
    return [o for o in server.outcomes if isinstance(o.error, PeerTimeout) and "slot" in str(o.error)]


def test_clients_waiting_for_a_slot_count_as_handshaking_and_time_out() -> None:
    parties: list[ResponderSession] = []
    holder, _ = make_parties(A, B, clock=Clock(), seed=b"holder")
    hello = holder.start()

    async def go() -> tuple[Server, int, int]:
        server = Server(_factory(parties), port=0, timeout=5, max_concurrent=1,  # type: ignore[arg-type]
                        max_handshakes=2, handshake_timeout=0.3)  # fmt: skip
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(len(hello)) + hello)  # takes the only slot, then goes quiet
        await writer.drain()
        (length,) = HEADER.unpack(await asyncio.wait_for(reader.readexactly(HEADER.size), 5))
        await asyncio.wait_for(reader.readexactly(length), 5)
        junk = []
        for _ in range(6):
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(HEADER.pack(4) + b"junk")
            junk.append(w)
        await asyncio.sleep(0.15)
        waiting, held = server.pending_handshakes(), len(server._tasks)
        while len(_slot_timeouts(server)) < 2:  # the two that waited for a slot gave up after the timeout
            await asyncio.sleep(0.01)
        server.stop()
        writer.close()
        for w in junk:
            w.close()
        await task
        return server, waiting, held

    server, waiting, held = run(go())
    assert waiting <= 2 and held <= 3  # the slot holder and at most max_handshakes waiting
    assert len(_slot_timeouts(server)) == 2  # the others were refused or dropped at once
    # stopping the server ended the slot holder's session like any failure: a signed failed record
    stopped = [o for o in server.outcomes if isinstance(o.error, PeerTimeout) and "stopped" in str(o.error)]
    assert len(stopped) == 1 and parties[0].record()["outcome"]["status"] == "failed"
