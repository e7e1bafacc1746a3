"""Running a sans-I/O party over a framed connection.

A party is a :class:`blindmatch.session.SessionParty` (the one interface the transports use): the driver
calls ``start()`` for the initiator, then sends what the party returns and reads the next frame while the
party is not done, refusing any frame longer than the party's ``max_next_message`` from its header, and
closes the connection when it is. The party's own computation runs in a worker thread so the event loop
(and the read timeouts of other sessions on a server) keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from ..session.interface import SessionParty
from .framing import FramedConnection

__all__ = ["InitiatingParty", "Party", "abort_party", "next_frame_limit", "run_party"]


#: What the transports drive: the session interface (both names kept for callers of earlier versions).
Party = SessionParty
InitiatingParty = SessionParty


#: Called as ``on_event(name, frame_size)`` with ``"sent"`` / ``"received"``: for progress and logs.
EventCallback = Callable[[str, int], None]


def next_frame_limit(party: SessionParty, max_frame: int) -> int:
    """``min(party.max_next_message, max_frame)``: the longest frame to read next."""
    return min(max(party.max_next_message, 0), max_frame)


def abort_party(party: SessionParty, reason: str) -> bool:
    """Abort ``party`` (``party.abort(reason)``) unless it is over; True if it aborted.

    A session party aborted this way is dead and gives a signed ``failed`` record with ``reason``.
    """
    if party.done:
        return False
    party.abort(reason)
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
    party: SessionParty,
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
            first: bytes = await _in_thread(party.start)
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
