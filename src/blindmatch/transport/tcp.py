"""TCP endpoints: a client that runs one party against a server, and a server that runs one party per
connection for several peers (at most ``max_concurrent`` at a time).

Loopback (``127.0.0.1``) is the default address: listening on another interface is an explicit choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameter, RemoteProtocolError
from ..session.interface import SessionParty
from .driver import EventCallback, _in_thread, abort_party, next_frame_limit, run_party
from .errors import ListenError, PeerTimeout, PeerUnreachable, SessionBudgetExceeded
from .framing import DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT, FramedConnection

__all__ = ["DEFAULT_HANDSHAKE_TIMEOUT", "DEFAULT_HOST", "Server", "SessionOutcome", "connect_and_run"]

DEFAULT_HOST = "127.0.0.1"
#: Seconds a new connection has to deliver its whole first frame (the hello) by default.
DEFAULT_HANDSHAKE_TIMEOUT = 20.0


@dataclass
class SessionOutcome:
    """How one served session ended: ``error`` is None on success."""

    peer: str
    party: SessionParty | None
    error: Exception | None  # a BlindmatchError, or (a bug) anything else the party raised
    bytes_sent: int = 0
    bytes_received: int = 0
    started: float = field(default=0.0)
    finished: float = field(default=0.0)


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

    Nothing from an unauthenticated client is trusted: the first frame is read within
    ``handshake_timeout`` seconds and may be at most the party's ``max_next_message`` (for a session
    responder: the largest hello), so a client cannot make the server buffer more than a hello; at most
    ``max_handshakes`` connections may be waiting for their first frame (more are closed at once). A
    connection takes one of the ``max_concurrent`` session slots only once its first frame is complete,
    and counts toward ``max_sessions`` (and ``admit``) only when the party accepted that frame as an
    authentic start (for a session party: the hello's signature verified, ``peer_name`` is set; for
    another party: ``receive`` returned). Connections that fail before that are still reported through
    ``on_outcome`` and :attr:`outcomes`. ``admit(peer)`` is the place for a per-peer budget (see
    :class:`DailySessionBudget`), keyed here by address. Every later frame is capped at the party's
    ``max_next_message`` too (and at ``max_frame``). ``session_timeout`` caps the rest of a session, on
    top of the per-read ``timeout``.
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
        session_timeout: float | None = None,
        admit: Callable[[str], None] | None = None,
        on_outcome: Callable[[SessionOutcome], None] | None = None,
        max_sessions: int | None = None,
        max_concurrent: int = 8,
        max_handshakes: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= port < 65536:
            raise InvalidParameter("port must be between 0 and 65535")
        if max_sessions is not None and max_sessions < 1:
            raise InvalidParameter("max_sessions must be at least 1")
        if max_concurrent < 1 or max_handshakes < 1:
            raise InvalidParameter("max_concurrent and max_handshakes must be at least 1")
        if not handshake_timeout > 0:
            raise InvalidParameter("handshake_timeout must be positive")
        self._factory = party_factory
        self.host = host
        self.port = port
        self.max_frame = max_frame
        self.timeout = timeout
        self.handshake_timeout = handshake_timeout
        self.session_timeout = session_timeout
        self._admit = admit
        self._on_outcome = on_outcome
        self.max_sessions = max_sessions
        self.max_handshakes = max_handshakes
        self._slots = asyncio.Semaphore(max_concurrent)
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._finished = 0
        self._accepted = 0
        self._handshaking = 0
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.outcomes: list[SessionOutcome] = []

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
        """Serve until :meth:`stop` or until ``max_sessions`` sessions have ended; returns the outcomes."""
        if self._server is None:
            await self.start()
        await self._done.wait()
        await self._shutdown()
        return self.outcomes

    def stop(self) -> None:
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

    def _full(self) -> bool:
        return self.max_sessions is not None and self._accepted >= self.max_sessions

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        conn = FramedConnection(reader, writer, max_frame=self.max_frame, timeout=self.timeout)
        if self._done.is_set() or self._full() or self._handshaking >= self.max_handshakes:
            await conn.close()
            return
        if task is not None:
            self._tasks.add(task)
        c = _Connection(conn, SessionOutcome(conn.peer, None, None, started=self._clock()))
        try:
            first = await self._first_frame(c)
            await self._run_session(c, first)
        except asyncio.CancelledError:
            # the server is stopping: the session ends like any other failure (a signed failed record)
            c.outcome.error = PeerTimeout("the server stopped before the session ended")
            _abort_begun(c.outcome.party, "server stopped before the session ended")
        except Exception as exc:  # reported through the outcome, never raised into asyncio's handler
            c.outcome.error = exc
            # a session that had begun (a timeout, the budget): the party records the failure
            _abort_begun(c.outcome.party, f"{type(exc).__name__}: {exc}")
        finally:
            await self._report(c, task)

    async def _first_frame(self, c: _Connection) -> bytes:
        """Make the party and read the whole first frame, then wait for a session slot.

        Until a connection holds a session slot it counts as handshaking (at most max_handshakes), and all
        of it -- the whole first frame and the wait for a slot -- is bounded by one handshake deadline.
        """
        self._handshaking += 1
        try:
            party = c.outcome.party = self._factory(c.outcome.peer)
            limit = next_frame_limit(party, self.max_frame)

            async def first_and_slot() -> bytes:
                data = await c.conn.recv(limit)
                await self._slots.acquire()
                c.holds_slot = True
                return data

            try:
                return await asyncio.wait_for(first_and_slot(), self.handshake_timeout)
            except asyncio.TimeoutError:
                raise PeerTimeout(
                    f"no complete first message within {self.handshake_timeout:g} s, or no session "
                    "slot free by then"
                ) from None
        finally:
            self._handshaking -= 1

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
        await c.conn.close()
        outcome = c.outcome
        outcome.bytes_sent = c.conn.bytes_sent
        outcome.bytes_received = c.conn.bytes_received
        outcome.finished = self._clock()
        self.outcomes.append(outcome)
        if c.counted:
            self._finished += 1
        if task is not None:
            self._tasks.discard(task)
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        if self.max_sessions is not None and self._finished >= self.max_sessions:
            self._done.set()


@dataclass
class _Connection:
    """One served connection while it runs."""

    conn: FramedConnection
    outcome: SessionOutcome
    counted: bool = False  # the session counts toward max_sessions (its peer was authenticated)
    holds_slot: bool = False


def _abort_begun(party: SessionParty | None, reason: str) -> None:
    """Abort ``party`` if its session had begun (the peer was authenticated) and is not over."""
    if party is not None and party.peer_authenticated:
        with contextlib.suppress(Exception):
            abort_party(party, reason)
