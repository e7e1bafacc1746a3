"""Handing a session over to the streaming engine (``blindmatch.streaming``) after the handshake.

With the suite :data:`~blindmatch.session.manifest.STREAM_PSI_SUITE` a session party runs the hello and
accept as for the other engines, then, instead of making an in-memory PSI party, leaves a
:class:`StreamHandover` (the stream key, the session id, the seed of the streaming party, its own items and
what it knows of the peer). The wrapper in ``blindmatch.streaming`` takes it, drives the streaming party
and reports back here (:func:`complete` or :func:`fail`), so the session's record is written as for every
engine (docs/sessions.md, "Streaming").
"""

from __future__ import annotations

from dataclasses import dataclass

from ._base import PartyBase
from ._seeded import psi_seed
from ._states import SessionState
from .channel import stream_key
from .result import ResultContext, SessionResult

__all__ = ["StreamHandover", "complete", "fail", "hand_over", "take_handover"]


@dataclass(frozen=True, repr=False)
class StreamHandover:
    """What the streaming party starts from: ``key`` (32 bytes, docs/sessions.md "Key schedule"),
    ``session_id`` (the manifest's, 16 bytes), ``seed`` (the party's PSI seed), ``items`` (the own distinct
    items, in the session's order) and ``ctx`` (the declared sizes, the manifest, the peer)."""

    key: bytes
    session_id: bytes
    seed: bytes
    items: list[bytes]
    ctx: ResultContext


def hand_over(party: PartyBase, shared: bytes, ctx: ResultContext, items: list[bytes], seed: bytes) -> None:
    """Leave the streaming engine's start in ``party``: call right after the accept entered the transcript
    (the key's salt is the transcript hash after the accept, as for the traffic keys)."""
    key = stream_key(shared, party.transcript_hash)
    party._handover = StreamHandover(key, ctx.manifest.session_id, psi_seed(seed), list(items), ctx)


def take_handover(party: PartyBase) -> StreamHandover | None:
    """The hand-over, once (``None`` before the handshake is over, after it was taken, or for another
    engine)."""
    handover, party._handover = party._handover, None
    return handover if isinstance(handover, StreamHandover) else None


def _account(party: PartyBase, chunks: int, sent: int, received: int, own_set_sent: bool) -> None:
    party._count += chunks
    party._bytes_sent += sent
    party._bytes_received += received
    party._own_set_sent = party._own_set_sent or own_set_sent


def complete(
    party: PartyBase, result: SessionResult, stream_hash: bytes, *, chunks: int, sent: int, received: int
) -> None:
    """The streaming exchange completed: ``result`` is the session's; the record names ``stream_hash``."""
    _account(party, chunks, sent, received, True)
    party._stream_hash = stream_hash
    party._result = result
    party._outcome = ("completed", None, None)
    party._state = SessionState.DONE
    party._ended_at = party._clock()
    party._forget()


def fail(
    party: PartyBase, exc: BaseException, *, chunks: int, sent: int, received: int, own_set_sent: bool
) -> None:
    """The streaming exchange failed with ``exc``: the session fails (a signed ``failed`` record)."""
    if party.done:
        return
    _account(party, chunks, sent, received, own_set_sent)
    party._fail(exc)
