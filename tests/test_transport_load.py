"""``Server`` under unauthenticated load, on loopback only (Linux routes all of 127.0.0.0/8 to ``lo``):
idle sockets from many addresses, or from the honest peer's own address, cannot shut honest sessions out;
junk connections leave bounded state behind; one trusted peer cannot hold every session slot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar, cast

from session_support import ALICE, CAROL, Clock, make_parties, trust

from blindmatch.errors import BlindmatchError
from blindmatch.session import InitiatorSession, ResponderSession, SessionParty
from blindmatch.transport import (
    FramedConnection,
    PeerTimeout,
    Server,
    SessionOutcome,
    TooManySessions,
    connect_and_run,
    run_party,
)
from blindmatch.transport.framing import HEADER

T = TypeVar("T")
A = {"email": [f"a{i}@example.org" for i in range(6)] + ["shared@example.org"]}
B = {"email": [f"b{i}@example.org" for i in range(9)] + ["shared@example.org"]}


def run(coro: Awaitable[T], limit: float = 60) -> T:
    async def wrapped() -> T:
        return await asyncio.wait_for(coro, limit)

    return asyncio.run(wrapped())


def _factory(_addr: str) -> ResponderSession:
    _, resp = make_parties(A, B, peers=trust(("alice", ALICE)), clock=Clock())
    return resp


async def _hold(port: int, source: str, stop: asyncio.Event, reopen: int = 25) -> int:
    """An attacker's idle socket from ``source``: sends nothing, re-opens it (at most ``reopen`` times)
    whenever the server closes it. Returns how many times it connected."""
    opened = 0
    while not stop.is_set() and opened <= reopen:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(0.2)
            continue
        opened += 1
        with contextlib.suppress(Exception):
            closed = asyncio.ensure_future(reader.read())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([closed, stopping], return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            stopping.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await asyncio.sleep(0.2)
    return opened


async def _honest(port: int, n: int, source: str = "127.0.0.1") -> int:
    """Run ``n`` honest sessions one after another from ``source``; returns how many succeeded."""
    ok = 0
    for k in range(n):
        init, _ = make_parties(A, B, clock=Clock(), seed=b"honest%d" % k)
        with contextlib.suppress(BlindmatchError, OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            await run_party(init, FramedConnection(reader, writer, timeout=10), initiator=True)
        ok += init.result is not None and init.result.count == 1
        await asyncio.sleep(0.3)  # the attackers re-open what was dropped meanwhile
    return ok


def test_idle_sockets_from_other_addresses_do_not_shut_out_honest_sessions() -> None:
    async def go() -> tuple[int, int, int]:
        server = Server(_factory, port=0, timeout=10)  # the default limits
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        stop = asyncio.Event()
        attackers = [asyncio.ensure_future(_hold(port, f"127.0.0.{2 + i % 12}", stop)) for i in range(100)]
        while server.pending_handshakes() < server.max_handshakes:  # the attackers fill every place
            await asyncio.sleep(0.05)
        ok = await _honest(port, 5)
        most = server.pending_handshakes()
        stop.set()
        opened = sum(await asyncio.gather(*attackers))
        server.stop()
        await task
        return ok, most, opened

    ok, most, opened = run(go())
    assert ok == 5
    assert most <= 64 and opened > 100  # the attackers kept re-opening


def test_an_attacker_on_the_honest_address_holds_at_most_its_share() -> None:
    async def go() -> tuple[int, list[int]]:
        server = Server(_factory, port=0, timeout=10, max_handshakes=32, max_handshakes_per_source=4)
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        stop = asyncio.Event()
        attackers = [asyncio.ensure_future(_hold(port, "127.0.0.1", stop, reopen=10)) for _ in range(100)]
        while server.pending_handshakes("127.0.0.1") < 4:
            await asyncio.sleep(0.05)
        seen = [server.pending_handshakes("127.0.0.1")]
        ok = await _honest(port, 3, source="127.0.0.5")  # another address is not shut out at all
        for _ in range(10):
            seen.append(server.pending_handshakes("127.0.0.1"))
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*attackers)
        server.stop()
        await task
        return ok, seen

    ok, seen = run(go())
    assert ok == 3 and max(seen) <= 4


def test_first_bytes_have_a_short_deadline() -> None:
    async def go() -> Server:
        server = Server(_factory, port=0, timeout=30, handshake_timeout=30, first_byte_timeout=0.2)
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        while not server.outcomes:
            await asyncio.sleep(0.02)
        server.stop()
        await task
        writer.close()
        return server

    server = run(go(), 20)
    (outcome,) = server.outcomes
    assert isinstance(outcome.error, PeerTimeout) and "0.2 s" in str(outcome.error)
    assert not outcome.authenticated


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _junk(port: int, n: int) -> None:
    for _ in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(4) + b"junk")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.read(), 10)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def test_junk_connections_leave_bounded_state_and_reach_no_outcome_callback() -> None:
    reported: list[SessionOutcome] = []
    lines: list[str] = []

    async def go() -> tuple[Server, int]:
        server = Server(_factory, port=0, timeout=10, on_outcome=reported.append,
                        on_unauthenticated=lines.append, log_interval=3600)  # fmt: skip
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        await asyncio.gather(*(_junk(port, 50) for _ in range(4)))  # warm-up
        while server.stats.unauthenticated < 200:
            await asyncio.sleep(0.01)
        before = _rss_kb()
        await asyncio.gather(*(_junk(port, 750) for _ in range(4)))
        while server.stats.unauthenticated < 3200:
            await asyncio.sleep(0.01)
        grown = _rss_kb() - before
        server.stop()
        await task
        return server, grown

    server, grown = run(go(), 120)
    assert grown < 8 * 1024, f"RSS grew by {grown} KiB"
    assert len(server.outcomes) <= 256
    assert all(o.party is None and not o.authenticated for o in server.outcomes)
    assert reported == []  # nothing that could write a file saw them
    assert server.stats.connections == 3200 and server.stats.sessions == 0
    assert len(lines) == 2 and "1 connection" in lines[0] and "3199 connections" in lines[1]


def test_one_trusted_peer_cannot_hold_every_slot() -> None:
    peers = trust(("alice", ALICE), ("carol", CAROL))
    made: list[ResponderSession] = []

    def factory(_addr: str) -> ResponderSession:
        _, resp = make_parties(A, B, peers=peers, clock=Clock())
        made.append(resp)
        return resp

    def peer_key(party: SessionParty, _addr: str) -> str:
        return str(cast(ResponderSession, party).peer_name)

    async def hello_from_alice(port: int, k: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        init, _ = make_parties(A, B, clock=Clock(), seed=b"alice%d" % k)
        hello = init.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(len(hello)) + hello)
        await writer.drain()
        answered = len(await asyncio.wait_for(reader.read(HEADER.size), 10)) == HEADER.size
        return reader, writer, answered

    async def go() -> tuple[Server, list[bool], InitiatorSession]:
        server = Server(factory, port=0, timeout=10, max_concurrent=4, max_sessions_per_peer=2,
                        peer_key=peer_key)  # fmt: skip
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        held = [await hello_from_alice(port, k) for k in range(3)]  # two held, the third refused
        carol, _ = make_parties(A, B, clock=Clock(), seed=b"carol", initiator=CAROL)
        await connect_and_run(carol, "127.0.0.1", port, timeout=10)
        server.stop()
        await task
        for _, w, _ in held:
            w.close()
        return server, [a for _, _, a in held], carol

    server, answered, carol = run(go())
    assert answered == [True, True, False]
    assert carol.result is not None and carol.result.count == 1
    refused = [o for o in server.outcomes if isinstance(o.error, TooManySessions)]
    assert len(refused) == 1 and refused[0].authenticated and "2 sessions" in str(refused[0].error)
    assert made[2].record()["outcome"]["status"] == "failed"


def test_stop_with_a_reason_aborts_running_sessions_with_signed_failed_records() -> None:
    made: list[ResponderSession] = []

    def factory(_addr: str) -> ResponderSession:
        made.append(_factory(_addr))
        return made[-1]

    async def go() -> Server:
        server = Server(factory, port=0, timeout=30)
        _, port = await server.start()
        task = asyncio.ensure_future(server.serve())
        init, _ = make_parties(A, B, clock=Clock(), seed=b"stalls")
        hello = init.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(len(hello)) + hello)  # begins a session, then goes quiet
        await writer.drain()
        await asyncio.wait_for(reader.readexactly(HEADER.size), 10)
        server.stop("SIGTERM: the server is shutting down")  # what a signal handler calls
        await asyncio.wait_for(task, 10)
        writer.close()
        return server

    server = run(go(), 30)
    (outcome,) = server.outcomes
    assert outcome.authenticated and isinstance(outcome.error, PeerTimeout)
    assert "SIGTERM" in str(outcome.error)
    record = made[0].record()
    assert record["outcome"]["status"] == "failed" and "SIGTERM" in str(record["outcome"]["reason"])


def test_sources_and_random_drops_never_touch_a_complete_first_frame() -> None:
    import random

    from blindmatch.transport._admission import Pending, PendingTable, source_key

    assert source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("::ffff:192.0.2.7") == "192.0.2.7" and source_key("fe80::1%lo") == "fe80::/64"
    table = PendingTable(max_total=4, max_per_source=2, rng=random.Random(7))
    complete = [Pending("a", None, complete=True), Pending("a", None, complete=True)]
    assert all(table.admit(p) for p in complete)
    assert not table.admit(Pending("a", None))  # only complete ones hold a's places: the new one goes
    idle = [Pending("b", None), Pending("b", None)]
    assert all(table.admit(p) for p in idle) and table.count() == 4
    for _ in range(20):  # the table is full: each newcomer from c drops an idle one of b (or itself)
        new = Pending("c", None)
        admitted = table.admit(new)
        assert admitted != new.dropped and not any(p.dropped for p in complete)
        assert table.count() <= 4 and table.count("a") == 2 and table.count("c") <= 2
