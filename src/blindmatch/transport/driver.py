"""Running a sans-I/O party over a framed connection.

A party is any object with ``receive(data) -> bytes | None`` and ``done``; the initiator also has
``start() -> bytes``. A party may also have ``max_next_message`` (an int): the longest message it can
accept next; the driver then refuses any longer frame from its header, before reading it. The driver
sends what the party returns, reads the next frame while the party is not done, and closes the connection
when it is. The party's own computation runs in a worker thread so the event loop (and the read
timeouts of other sessions on a server) keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .framing import FramedConnection

__all__ = ["InitiatingParty", "Party", "abort_party", "next_frame_limit", "run_party"]


@runtime_checkable
class Party(Protocol):
    """The responder's side of the interface (and half of the initiator's)."""

    @property
    def done(self) -> bool: ...

    def receive(self, data: bytes) -> bytes | None: ...


@runtime_checkable
class InitiatingParty(Party, Protocol):
    def start(self) -> bytes: ...


#: Called as ``on_event(name, frame_size)`` with ``"sent"`` / ``"received"``: for progress and logs.
EventCallback = Callable[[str, int], None]


def next_frame_limit(party: Party, max_frame: int) -> int:
    """``min(party.max_next_message, max_frame)``, or ``max_frame`` for a party without that property."""
    limit = getattr(party, "max_next_message", None)
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        return min(limit, max_frame)
    return max_frame


def abort_party(party: Party, reason: str) -> bool:
    """Abort ``party`` (its ``abort(reason)``, where it has one) unless it is over; True if it aborted.

    A session party aborted this way is dead and gives a signed ``failed`` record with ``reason``.
    """
    abort = getattr(party, "abort", None)
    if abort is None or party.done:
        return False
    abort(reason)
    return True


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread; if the caller is cancelled meanwhile (a session timeout), wait for
    the thread to end before the cancellation goes on, so nothing touches the party while it runs."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


async def run_party(
    party: Party,
    conn: FramedConnection,
    *,
    initiator: bool,
    on_event: EventCallback | None = None,
    close: bool = True,
    begun: bool = False,
) -> None:
    """Drive ``party`` to completion over ``conn``; any error propagates after the connection is closed.

    Nothing more is sent after an error: the connection is just closed. When the connection fails (the
    peer disconnects or stalls, a frame is too large) once the session has begun, the party is aborted
    with that reason (:func:`abort_party`), so it still gives a signed record of the failure. ``begun``:
    the party has already taken part (a server that handled the first message itself).
    """
    try:
        if initiator:
            start = getattr(party, "start", None)
            if start is None:
                raise TypeError("an initiating party needs a start() method")
            first: bytes = await _in_thread(start)
            begun = True
            await conn.send(first)
            if on_event:
                on_event("sent", len(first))
        while not party.done:
            data = await conn.recv(next_frame_limit(party, conn.max_frame))
            begun = True
            if on_event:
                on_event("received", len(data))
            out = await _in_thread(party.receive, data)
            if out is not None:
                await conn.send(out)
                if on_event:
                    on_event("sent", len(out))
    except Exception as exc:
        if begun:
            abort_party(party, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if close:
            await conn.close()
