"""TCP endpoints: a client that runs one party against a server, and a server that runs one party per
connection for several peers (at most ``max_concurrent`` at a time).

Loopback (``127.0.0.1``) is the default address: listening on another interface is an explicit choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameter, RemoteProtocolError
from ..session.interface import SessionParty
from ._admission import Pending, PendingTable, source_key
from .driver import EventCallback, _in_thread, abort_party, next_frame_limit, run_party
from .errors import (
    HandshakeDropped,
    ListenError,
    PeerTimeout,
    PeerUnreachable,
    SessionBudgetExceeded,
    TooManySessions,
)
from .framing import DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT, FramedConnection

__all__ = [
    "DEFAULT_FIRST_BYTE_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_HOST",
    "Server",
    "ServerStats",
    "SessionOutcome",
    "connect_and_run",
]

DEFAULT_HOST = "127.0.0.1"
#: Seconds a new connection has to deliver its whole first frame (the hello) by default.
DEFAULT_HANDSHAKE_TIMEOUT = 20.0
#: Seconds a new connection has to deliver the 4-byte header of its first frame by default.
DEFAULT_FIRST_BYTE_TIMEOUT = 5.0


@dataclass
class SessionOutcome:
    """How one served connection ended: ``error`` is None on success.

    ``authenticated``: the peer was authenticated (for a session party: its hello verified), so the
    session began and ``party`` has a signed record to give. A connection that never authenticated must
    not cause any file to be written: :class:`Server` never hands out its party (``party`` is None), and
    drops every other ``party`` (sets it to None) once ``on_outcome`` returned.
    """

    peer: str
    party: SessionParty | None
    error: Exception | None  # a BlindmatchError, or (a bug) anything else the party raised
    bytes_sent: int = 0
    bytes_received: int = 0
    started: float = field(default=0.0)
    finished: float = field(default=0.0)
    authenticated: bool = False


@dataclass
class ServerStats:
    """Counters of a :class:`Server` since it started (they never shrink)."""

    connections: int = 0  # every accepted TCP connection
    refused: int = 0  # closed at once: the server was stopping or had taken all its sessions
    dropped: int = 0  # dropped before their whole first frame, to make room (see ``max_handshakes``)
    unauthenticated: int = 0  # reported connections that never authenticated (dropped pending ones too)
    sessions: int = 0  # reported connections whose peer authenticated (given to ``on_outcome``)
    failed: int = 0  # of those, the ones that ended with an error


async def connect_and_run(
    party: SessionParty,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    max_frame: int = DEFAULT_MAX_FRAME,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float = 10.0,
    on_event: EventCallback | None = None,
) -> FramedConnection:
    """Connect, run ``party`` as the initiator to completion, close; returns the (closed) connection."""
    if not 0 < port < 65536:
        raise InvalidParameter("port must be between 1 and 65535")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout)
    except asyncio.TimeoutError:
        raise PeerUnreachable(f"cannot connect to {host}:{port}: timed out") from None
    except OSError as exc:
        raise PeerUnreachable(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    conn = FramedConnection(reader, writer, max_frame=max_frame, timeout=timeout)
    await run_party(party, conn, initiator=True, on_event=on_event)
    return conn


class Server:
    """Serves one session per connection.

    ``party_factory(peer)`` makes a fresh responder party for the peer address ``"host:port"``; it may
    raise a :class:`~blindmatch.BlindmatchError` to refuse (the connection is then closed).

    Nothing from an unauthenticated client is trusted. The 4-byte header of the first frame must come
    within ``first_byte_timeout`` seconds and the whole first frame within ``handshake_timeout``; it may
    be at most the party's ``max_next_message`` (for a session responder: the largest hello), so a client
    cannot make the server buffer more than a hello. Until a connection holds one of the
    ``max_concurrent`` session slots it is *pending*: at most ``max_handshakes_per_source`` pending
    connections per source (an IPv4 address, an IPv6 /64) and ``max_handshakes`` in all. When a new
    connection would pass a limit, one connection that has not yet sent its whole first frame is dropped
    at random (of that source, or of the sources holding the most pending connections; the new one may be
    the one), never one whose first frame is complete (see :mod:`blindmatch.transport._admission`).

    A connection counts toward ``max_sessions`` (and ``admit``) only when the party accepted its first
    frame as an authentic start (for a session party: the hello's signature verified; for another party:
    ``receive`` returned with ``peer_authenticated`` set). At most ``max_sessions_per_peer`` such sessions
    run at once per peer, keyed by ``peer_key(party, peer)`` (default: the source address; a session
    server should key by the authenticated identity); one more is refused with :class:`TooManySessions`
    and its party aborted (a signed failed record). ``admit(peer)`` is the place for a per-peer budget
    (see :class:`DailySessionBudget`), keyed here by address. Every later frame is capped at the party's
    ``max_next_message`` too (and at ``max_frame``). ``session_timeout`` caps the rest of a session, on
    top of the per-read ``timeout``.

    Every outcome is counted in :attr:`stats`. An authenticated one reaches ``on_outcome`` with its
    party (dropped once ``on_outcome`` returned). One that never authenticated never carries its party
    (``party`` is None, ``authenticated`` False: write no file for it); given ``on_unauthenticated``,
    such connections are only summed up in at most one ``on_unauthenticated(line)`` call per
    ``log_interval`` seconds (the rest when the server stops) and do not reach ``on_outcome``; without
    it they reach ``on_outcome`` one by one. :attr:`outcomes` holds the last ``keep_outcomes`` outcomes
    of both kinds, without their parties. ``rng`` picks the connections to drop (default:
    :class:`random.SystemRandom`; tests may seed one).
    """

    def __init__(
        self,
        party_factory: Callable[[str], SessionParty],
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        max_frame: int = DEFAULT_MAX_FRAME,
        timeout: float = DEFAULT_TIMEOUT,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
        session_timeout: float | None = None,
        admit: Callable[[str], None] | None = None,
        on_outcome: Callable[[SessionOutcome], None] | None = None,
        on_unauthenticated: Callable[[str], None] | None = None,
        log_interval: float = 10.0,
        max_sessions: int | None = None,
        max_concurrent: int = 8,
        max_handshakes: int = 64,
        max_handshakes_per_source: int = 8,
        max_sessions_per_peer: int = 4,
        peer_key: Callable[[SessionParty, str], str] | None = None,
        keep_outcomes: int = 256,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= port < 65536:
            raise InvalidParameter("port must be between 0 and 65535")
        if max_sessions is not None and max_sessions < 1:
            raise InvalidParameter("max_sessions must be at least 1")
        limits = (max_concurrent, max_handshakes, max_handshakes_per_source, max_sessions_per_peer)
        if min(limits) < 1:
            raise InvalidParameter(
                "max_concurrent, max_handshakes, max_handshakes_per_source and max_sessions_per_peer "
                "must be at least 1"
            )
        if not (handshake_timeout > 0 and first_byte_timeout > 0 and log_interval >= 0):
            raise InvalidParameter(
                "handshake_timeout and first_byte_timeout must be positive, log_interval at least 0"
            )
        if keep_outcomes < 0:
            raise InvalidParameter("keep_outcomes must be >= 0")
        self._factory = party_factory
        self.host = host
        self.port = port
        self.max_frame = max_frame
        self.timeout = timeout
        self.handshake_timeout = handshake_timeout
        self.first_byte_timeout = first_byte_timeout
        self.session_timeout = session_timeout
        self._admit = admit
        self._on_outcome = on_outcome
        self._on_unauthenticated = on_unauthenticated
        self.log_interval = log_interval
        self.max_sessions = max_sessions
        self.max_handshakes = max_handshakes
        self.max_sessions_per_peer = max_sessions_per_peer
        self._peer_key = peer_key
        self._slots = asyncio.Semaphore(max_concurrent)
        self._pending = PendingTable(max_handshakes, max_handshakes_per_source, rng or random.SystemRandom())
        self._running: dict[str, int] = {}  # authenticated sessions running, by peer key
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._finished = 0
        self._accepted = 0
        self._done = asyncio.Event()
        self._stop_reason = "the server stopped before the session ended"
        self._tasks: set[asyncio.Task[None]] = set()
        self._quiet = _QuietLog(on_unauthenticated, log_interval)
        self.stats = ServerStats()
        self.outcomes: deque[SessionOutcome] = deque(maxlen=keep_outcomes)

    def pending_handshakes(self, source: str | None = None) -> int:
        """Connections still waiting for their first frame or a slot: from ``source`` (an address; an
        IPv6 address counts its /64), or in all."""
        return self._pending.count(None if source is None else source_key(source))

    async def start(self) -> tuple[str, int]:
        """Start listening; returns the bound ``(host, port)`` (useful with port 0)."""
        try:
            self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ListenError(f"cannot listen on {self.host}:{self.port}: {why}") from None
        sock = self._server.sockets[0].getsockname()
        self.port = int(sock[1])
        return self.host, self.port

    async def serve(self) -> list[SessionOutcome]:
        """Serve until :meth:`stop` or until ``max_sessions`` sessions have ended; returns the last
        outcomes (at most ``keep_outcomes``)."""
        if self._server is None:
            await self.start()
        await self._done.wait()
        await self._shutdown()
        return list(self.outcomes)

    def stop(self, reason: str = "the server stopped before the session ended") -> None:
        """Stop: :meth:`serve` closes the listener, aborts every running session with ``reason`` (each
        party that began gives a signed ``failed`` record: ``party.abort(reason)``), reports them and
        returns. Plain (not async), so a signal handler can call it
        (``loop.add_signal_handler(signal.SIGTERM, server.stop, "SIGTERM")``); idempotent, the first
        reason wins."""
        if not self._done.is_set():
            self._stop_reason = reason
        self._done.set()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._quiet.flush()

    def _full(self) -> bool:
        return self.max_sessions is not None and self._accepted >= self.max_sessions

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        conn = FramedConnection(reader, writer, max_frame=self.max_frame, timeout=self.timeout)
        self.stats.connections += 1
        info = writer.get_extra_info("peername")
        host = str(info[0]) if isinstance(info, tuple) and info else "unknown"
        c = _Connection(conn, SessionOutcome(conn.peer, None, None, started=self._clock()))
        c.pending = Pending(source_key(host), task)
        if self._done.is_set() or self._full():
            self.stats.refused += 1
            await conn.close()
            return
        if not self._pending.admit(c.pending):
            self.stats.dropped += 1
            self._quiet.note(f"{conn.peer}: dropped, too many connections waiting for their first message")
            await conn.close()
            return
        if task is not None:
            self._tasks.add(task)
        try:
            first = await self._first_frame(c)
            await self._run_session(c, first)
        except asyncio.CancelledError:
            if c.pending.dropped:
                c.outcome.error = _dropped()
            else:  # the server is stopping: a session that began ends with a signed failed record
                c.outcome.error = PeerTimeout(self._stop_reason)
                _abort_begun(c.outcome.party, self._stop_reason)
        except Exception as exc:  # reported through the outcome, never raised into asyncio's handler
            c.outcome.error = exc
            # a session that had begun (a timeout, the budget): the party records the failure
            _abort_begun(c.outcome.party, f"{type(exc).__name__}: {exc}")
        finally:
            self._pending.remove(c.pending)
            await self._report(c, task)

    async def _first_frame(self, c: _Connection) -> bytes:
        """Make the party and read the whole first frame, then wait for a session slot.

        Until a connection holds a session slot it is pending (see the class docstring), and all of it --
        the whole first frame and the wait for a slot -- is bounded by one handshake deadline.
        """
        party = c.outcome.party = self._factory(c.outcome.peer)
        limit = next_frame_limit(party, self.max_frame)

        async def first_and_slot() -> bytes:
            data = await c.conn.recv(limit, header_timeout=self.first_byte_timeout)
            if c.pending.dropped:  # dropped as its frame completed: raised below
                return data
            c.pending.complete = True  # never dropped from now on
            await self._slots.acquire()
            c.holds_slot = True
            self._pending.remove(c.pending)
            return data

        try:
            first = await asyncio.wait_for(first_and_slot(), self.handshake_timeout)
        except asyncio.TimeoutError:
            raise PeerTimeout(
                f"no complete first message within {self.handshake_timeout:g} s, or no session "
                "slot free by then"
            ) from None
        if c.pending.dropped:  # dropped as its frame completed (``wait_for`` may then swallow the cancel)
            raise _dropped()
        return first

    async def _run_session(self, c: _Connection, first: bytes) -> None:
        """Hand the first frame to the party; count the session once the peer is authenticated (a fresh,
        verified hello), then run the rest of it within ``session_timeout``."""
        party = c.outcome.party
        if party is None:  # pragma: no cover - made by _first_frame
            raise RemoteProtocolError("no party")
        try:
            reply = await _in_thread(party.receive, first)
        finally:
            c.counted = party.peer_authenticated
        if not c.counted:
            raise RemoteProtocolError("the first message did not start a session")
        if self._full():
            c.counted = False
            raise SessionBudgetExceeded("the server has taken all the sessions it serves")
        key = self._peer_key(party, c.outcome.peer) if self._peer_key else c.pending.source
        running = self._running.get(key, 0)
        if running >= self.max_sessions_per_peer:
            c.counted = False
            raise TooManySessions(f"peer {key} already runs {running} sessions at once, the most this "
                                  "server allows one peer")  # fmt: skip
        self._running[key] = running + 1
        c.peer_key = key
        self._accepted += 1
        if self._admit is not None:
            self._admit(c.outcome.peer)
        if reply is not None:
            await c.conn.send(reply)
        run = run_party(party, c.conn, initiator=False, begun=True)
        if self.session_timeout is None:
            await run
            return
        try:
            await asyncio.wait_for(run, self.session_timeout)
        except asyncio.TimeoutError:
            raise PeerTimeout(f"session not finished within {self.session_timeout:g} s") from None

    async def _report(self, c: _Connection, task: asyncio.Task[Any] | None) -> None:
        if c.holds_slot:
            self._slots.release()
        if c.peer_key is not None:
            left = self._running.pop(c.peer_key, 1) - 1
            if left:
                self._running[c.peer_key] = left
        await c.conn.close()
        outcome = c.outcome
        outcome.bytes_sent = c.conn.bytes_sent
        outcome.bytes_received = c.conn.bytes_received
        outcome.finished = self._clock()
        outcome.authenticated = outcome.party is not None and outcome.party.peer_authenticated
        self.stats.dropped += c.pending.dropped
        if c.counted:
            self._finished += 1
        if task is not None:
            self._tasks.discard(task)
        try:
            if outcome.authenticated:
                self.stats.sessions += 1
                self.stats.failed += outcome.error is not None
                if self._on_outcome is not None:
                    self._on_outcome(outcome)
            else:  # its party is never handed out: nothing may write a record or a file for it
                self.stats.unauthenticated += 1
                outcome.party = None
                if self._on_unauthenticated is not None:
                    self._quiet.note(f"{outcome.peer}: {outcome.error}")
                elif self._on_outcome is not None:
                    self._on_outcome(outcome)
        finally:
            outcome.party = None  # nothing keeps a party (and what it holds) once it was reported
            _forget_frames(outcome.error)
            self.outcomes.append(outcome)
            if self.max_sessions is not None and self._finished >= self.max_sessions:
                self._done.set()


@dataclass
class _Connection:
    """One served connection while it runs."""

    conn: FramedConnection
    outcome: SessionOutcome
    counted: bool = False  # the session counts toward max_sessions (its peer was authenticated)
    holds_slot: bool = False
    pending: Pending = field(default_factory=lambda: Pending("", None))
    peer_key: str | None = None  # set while it counts toward max_sessions_per_peer


class _QuietLog:
    """At most one line per ``interval`` seconds about connections that never authenticated."""

    def __init__(self, log: Callable[[str], None] | None, interval: float) -> None:
        self._log = log
        self._interval = interval
        self._count = 0
        self._latest = ""
        self._last = -float("inf")

    def note(self, latest: str) -> None:
        self._count += 1
        self._latest = latest
        if time.monotonic() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        n, self._count = self._count, 0
        self._last = time.monotonic()
        if n and self._log is not None:
            self._log(f"{n} connection{'s' if n != 1 else ''} closed before a session began "
                      f"(latest: {self._latest})")  # fmt: skip


def _dropped() -> HandshakeDropped:
    return HandshakeDropped("dropped before its first message was complete, to make room for another "
                            "connection")  # fmt: skip


def _forget_frames(exc: BaseException | None) -> None:
    """Drop the tracebacks of ``exc`` and its causes: their frames would keep the party alive."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__cause__, e.__context__]


def _abort_begun(party: SessionParty | None, reason: str) -> None:
    """Abort ``party`` if its session had begun (the peer was authenticated) and is not over."""
    if party is not None and party.peer_authenticated:
        with contextlib.suppress(Exception):
            abort_party(party, reason)
