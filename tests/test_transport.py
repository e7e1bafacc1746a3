"""Transport tests over loopback only (127.0.0.1, port 0), with a tiny ping-pong party."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from blindmatch.errors import LocalProtocolError, RemoteProtocolError
from blindmatch.transport import (
    DailySessionBudget,
    FrameTooLarge,
    ListenError,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
    Server,
    SessionBudgetExceeded,
    StateFileError,
    connect_and_run,
    delete_state,
    read_message,
    read_state,
    state_guard,
    write_message,
    write_state,
)
from blindmatch.transport.framing import HEADER

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await asyncio.wait_for(coro, 20)

    return asyncio.run(wrapped())


class _Party:
    """The rest of the transport interface (``blindmatch.session.SessionParty``) for the test parties."""

    role = "test"
    done = False
    failed = False
    result = None
    peer_authenticated = False  # a ping or pong that parsed authenticates the peer here
    max_next_message = 1 << 30

    def start(self) -> bytes:
        raise LocalProtocolError("this party does not start")

    aborted: str | None = None

    def abort(self, reason: str) -> None:
        self.aborted = reason

    def record(self) -> dict[str, Any]:
        return {}


class Pinger(_Party):
    """Initiator: sends ping i, expects pong i, for ``rounds`` rounds."""

    def __init__(self, rounds: int = 3, payload: bytes = b"") -> None:
        self.rounds = rounds
        self.i = 0
        self.payload = payload
        self.done = False
        self.started = False

    def start(self) -> bytes:
        if self.started:
            raise AssertionError("start twice")
        self.started = True
        return b"ping %d " % self.i + self.payload

    def receive(self, data: bytes) -> bytes | None:
        if not data.startswith(b"pong %d " % self.i):
            raise RemoteProtocolError("unexpected reply")
        self.peer_authenticated = True
        self.i += 1
        if self.i == self.rounds:
            self.done = True
            return None
        return b"ping %d " % self.i + self.payload


class Ponger(_Party):
    def __init__(self, rounds: int = 3) -> None:
        self.rounds = rounds
        self.i = 0
        self.done = False
        self.sizes: list[int] = []

    def receive(self, data: bytes) -> bytes | None:
        if not data.startswith(b"ping %d " % self.i):
            raise RemoteProtocolError("unexpected message")
        self.peer_authenticated = True
        self.sizes.append(len(data))
        out = b"pong %d " % self.i
        self.i += 1
        if self.i == self.rounds:
            self.done = True
        return out


async def _until(server: Server, n: int) -> None:
    """Wait until ``n`` connections were reported, then stop the server (connections that never started a
    session are reported but do not count toward ``max_sessions``)."""
    while len(server.outcomes) < n:
        await asyncio.sleep(0.01)
    server.stop()


async def _serve(factory: Callable[[str], Any], **kw: Any) -> tuple[Server, asyncio.Task[Any], int]:
    server = Server(factory, host="127.0.0.1", port=0, **kw)
    _, port = await server.start()
    task = asyncio.create_task(server.serve())
    return server, task, port


def test_ping_pong_several_peers_one_session_each() -> None:
    async def go() -> None:
        pongers: list[Ponger] = []
        server, task, port = await _serve(lambda peer: pongers.append(Ponger(4)) or pongers[-1],
                                          max_sessions=3, timeout=5)  # fmt: skip
        pingers = [Pinger(4, payload=bytes(100_000 * (i + 1))) for i in range(3)]
        conns = await asyncio.gather(*(connect_and_run(p, "127.0.0.1", port, timeout=5) for p in pingers))
        outcomes = await task
        assert all(p.done and p.i == 4 for p in pingers)
        assert len(outcomes) == 3
        assert all(o.error is None for o in outcomes)
        assert sorted(o.bytes_received for o in outcomes) == sorted(c.bytes_sent for c in conns)
        assert all(o.authenticated and o.party is None for o in outcomes)  # dropped once reported
        assert len(pongers) == 3 and all(p.done for p in pongers)
        assert conns[0].frames_sent == 4 and conns[0].frames_received == 4
        del server

    run(go())


def test_busy_port_is_a_listen_error() -> None:
    async def go() -> None:
        server, task, port = await _serve(lambda peer: Ponger())
        other = Server(lambda peer: Ponger(), host="127.0.0.1", port=port)
        with pytest.raises(ListenError, match="already in use"):
            await other.start()
        server.stop()
        await task

    run(go())


def test_connect_to_closed_port_is_unreachable() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(PeerUnreachable):
        run(connect_and_run(Pinger(), "127.0.0.1", port, timeout=2))


async def _raw(port: int, data: bytes, *, close: bool = True, wait: float = 0.0) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if wait:
        await asyncio.sleep(wait)
    if close:
        writer.close()
        await writer.wait_closed()


def test_server_peer_disconnects_midway() -> None:
    async def go() -> None:
        server, task, port = await _serve(lambda peer: Ponger(3), max_sessions=2, timeout=5)
        # One peer announces 100 bytes and sends 10; another closes right after a full first frame.
        await _raw(port, HEADER.pack(100) + b"ping 0 123")
        await _raw(port, HEADER.pack(7) + b"ping 0 ")
        await _until(server, 2)
        outcomes = await task
        errors = sorted(str(o.error) for o in outcomes)
        assert all(isinstance(o.error, PeerDisconnected) for o in outcomes)
        assert any("middle of a frame" in e for e in errors)
        del server

    run(go())


def test_client_sees_server_disconnect_midway() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(HEADER.size)
        writer.write(HEADER.pack(50) + b"pong 0 ")  # half a frame, then gone
        await writer.drain()
        writer.close()

    async def go() -> None:
        srv = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        p = Pinger()
        with pytest.raises(PeerDisconnected):
            await connect_and_run(p, "127.0.0.1", port, timeout=5)
        assert not p.done
        srv.close()
        await srv.wait_closed()

    run(go())


def test_stalled_peer_times_out_on_both_sides() -> None:
    async def go() -> None:
        server, task, port = await _serve(
            lambda peer: Ponger(3), max_sessions=1, timeout=30, handshake_timeout=0.3
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        t0 = asyncio.get_running_loop().time()
        await _until(server, 1)  # the silent client is dropped after the handshake timeout
        outcomes = await task
        assert asyncio.get_running_loop().time() - t0 < 10
        assert isinstance(outcomes[0].error, PeerTimeout) and "0.3 s" in str(outcomes[0].error)
        writer.close()
        del server, reader

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(3)
            writer.close()

        srv = await asyncio.start_server(silent, "127.0.0.1", 0)
        port2 = srv.sockets[0].getsockname()[1]
        with pytest.raises(PeerTimeout):
            await connect_and_run(Pinger(), "127.0.0.1", port2, timeout=0.3)
        srv.close()

    run(go())


def test_oversized_frame_refused_from_its_header() -> None:
    async def go() -> None:
        server, task, port = await _serve(lambda peer: Ponger(3), max_sessions=1, max_frame=1024, timeout=5)
        await _raw(port, HEADER.pack(0xFFFFFFFF), wait=0.1)
        await _until(server, 1)
        outcomes = await task
        assert isinstance(outcomes[0].error, FrameTooLarge)
        assert "4294967295" in str(outcomes[0].error)
        del server

    run(go())


def test_bad_message_from_peer_ends_session_without_reply() -> None:
    async def go() -> None:
        server, task, port = await _serve(lambda peer: Ponger(3), max_sessions=1, timeout=5)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(5) + b"hello")
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)
        assert rest == b""  # nothing sent back after the error, just a close
        await _until(server, 1)
        outcomes = await task
        assert isinstance(outcomes[0].error, RemoteProtocolError)
        writer.close()
        del server

    run(go())


def test_daily_budget_hook_refuses_extra_sessions() -> None:
    now = [1_000_000.0]
    budget = DailySessionBudget(1, clock=lambda: now[0])

    def admit(peer: str) -> None:
        budget.charge(peer.rsplit(":", 1)[0])  # keyed by host, not port

    async def go() -> None:
        server, task, port = await _serve(lambda peer: Ponger(1), max_sessions=2, admit=admit, timeout=5)
        await connect_and_run(Pinger(1), "127.0.0.1", port, timeout=5)
        with pytest.raises(PeerDisconnected):
            await connect_and_run(Pinger(1), "127.0.0.1", port, timeout=5)
        outcomes = await task
        assert outcomes[0].error is None
        assert isinstance(outcomes[1].error, SessionBudgetExceeded)
        del server

    run(go())
    assert budget.used("127.0.0.1") == 1
    now[0] += 86400  # next UTC day: the budget is fresh
    assert budget.used("127.0.0.1") == 0
    budget.charge("127.0.0.1")
    with pytest.raises(SessionBudgetExceeded):
        budget.charge("127.0.0.1")


# ---- files ------------------------------------------------------------------------------------------


def test_message_files_atomic_and_bounded(tmp_path: Path) -> None:
    p = tmp_path / "m1.bin"
    write_message(p, b"hello")
    assert read_message(p) == b"hello"
    write_message(p, b"x" * 100)
    assert read_message(p, max_bytes=100) == b"x" * 100
    from blindmatch.errors import InvalidParameter, MalformedFile

    with pytest.raises(MalformedFile):
        read_message(p, max_bytes=99)
    with pytest.raises(InvalidParameter):
        read_message(tmp_path / "missing")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m1.bin"]  # no temporary files left


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_state_files_are_private_and_deleted(tmp_path: Path) -> None:
    p = tmp_path / "a.state"
    write_state(p, b"secret scalar")
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with pytest.raises(StateFileError, match="already exists"):
        write_state(p, b"again")
    assert read_state(p) == b"secret scalar"
    os.chmod(p, 0o644)
    with pytest.raises(StateFileError, match="other users"):
        read_state(p)
    os.chmod(p, 0o600)
    with pytest.raises(RuntimeError), state_guard(p, keep_on_success=True):
        raise RuntimeError("step failed")
    assert not p.exists()
    with pytest.raises(StateFileError, match="not found"):
        read_state(p)
    write_state(p, b"s")
    with state_guard(p, keep_on_success=True):
        pass
    assert p.exists()
    with state_guard(p):
        pass
    assert not p.exists()
    assert delete_state(p) is False


class Broken(_Party):
    """A party with a bug: the server must report it through the outcome, not crash or log a traceback."""

    done = False

    def receive(self, data: bytes) -> bytes | None:
        raise ZeroDivisionError("bug")


def test_party_bug_is_an_outcome_and_big_local_frames_are_refused() -> None:
    from blindmatch.errors import InvalidParameter
    from blindmatch.transport import FramedConnection

    async def go() -> None:
        server, task, port = await _serve(lambda peer: Broken(), max_sessions=1, timeout=5)
        with pytest.raises(PeerDisconnected):
            await connect_and_run(Pinger(), "127.0.0.1", port, timeout=5)
        await _until(server, 1)
        outcomes = await task
        assert isinstance(outcomes[0].error, ZeroDivisionError)
        del server


    run(go())

    async def local() -> None:
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = FramedConnection(reader, writer, max_frame=10, timeout=1)
        with pytest.raises(InvalidParameter):
            await conn.send(b"x" * 11)
        await conn.close()
        await conn.close()  # idempotent
        srv.close()
        with pytest.raises(InvalidParameter):
            FramedConnection(reader, writer, max_frame=0)
        with pytest.raises(InvalidParameter):
            FramedConnection(reader, writer, timeout=0)

    run(local())
