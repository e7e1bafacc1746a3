"""Running a sans-I/O party over a framed connection.

A party is any object with ``receive(data) -> bytes | None`` and ``done``; the initiator also has
``start() -> bytes``. The driver sends what the party returns, reads the next frame while the party is not
done, and closes the connection when it is. The party's own computation runs in a worker thread so the
event loop (and the read timeouts of other sessions on a server) keep running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .framing import FramedConnection

__all__ = ["InitiatingParty", "Party", "run_party"]


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


async def run_party(
    party: Party,
    conn: FramedConnection,
    *,
    initiator: bool,
    on_event: EventCallback | None = None,
    close: bool = True,
) -> None:
    """Drive ``party`` to completion over ``conn``; any error propagates after the connection is closed.

    Nothing more is sent after an error: the connection is just closed.
    """
    try:
        if initiator:
            start = getattr(party, "start", None)
            if start is None:
                raise TypeError("an initiating party needs a start() method")
            first: bytes = await asyncio.to_thread(start)
            await conn.send(first)
            if on_event:
                on_event("sent", len(first))
        while not party.done:
            data = await conn.recv()
            if on_event:
                on_event("received", len(data))
            out = await asyncio.to_thread(party.receive, data)
            if out is not None:
                await conn.send(out)
                if on_event:
                    on_event("sent", len(out))
    finally:
        if close:
            await conn.close()
