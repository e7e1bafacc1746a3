"""A streaming exchange behind the session handshake: :class:`StreamingInitiatorSession` and
:class:`StreamingResponderSession` (docs/sessions.md, "Streaming"; docs/streaming.md).

Each wraps a session party (:class:`~blindmatch.session.InitiatorSession` /
:class:`~blindmatch.session.ResponderSession`) whose manifest names ``STREAM_PSI_SUITE``: the hello and
accept run as for every engine, then the session hands over the stream key and session id and the wrapper
drives a :class:`StreamInitiator` / :class:`StreamResponder`. It offers the transport interface
(:class:`~blindmatch.session.SessionParty`), so ``blindmatch.transport`` carries it unchanged: one frame
per chunk, and a party with nothing to send answers a chunk with the 4-byte :data:`PULL`. A responder
wrapper whose peer proposes another engine just passes the session's messages through.
"""

from __future__ import annotations

import os
from typing import Any

from .._progress import STAGE_STREAM, STAGE_STREAM_PREPARE
from ..errors import InvalidParameter, LocalProtocolError
from ..session import InitiatorSession, ResponderSession
from ..session._handover import StreamHandover, complete, fail, take_handover
from ..session.identity import Identity, PublicIdentity
from ..session.interface import SessionParty
from ..session.manifest import STREAM_OT_PSI_SUITE, STREAM_PSI_SUITE, STREAM_SUITES
from ..session.peers import PeerStore
from ..session.result import ResultContext, SessionResult, make_result
from ._base import DEFAULT_CHUNK_ITEMS, DEFAULT_FRAME_ITEMS, SIGNATURE_BYTES, StreamParty, StreamResult
from ._errors import UnexpectedChunk
from ._frames import HEADER, TAG_BYTES
from ._otstream import DEFAULT_BUCKET_ITEMS
from ._run import ENGINES

__all__ = ["PULL", "StreamingInitiatorSession", "StreamingResponderSession"]

#: The frame a party sends when it has no chunk to send (the peer is in the middle of a message).
PULL = b"BMSP"


class _StreamOutcome:
    """A streaming result as the session's ``make_result`` reads a PSI result (matched items by index)."""

    def __init__(self, result: StreamResult, items: list[bytes]) -> None:
        self.peer_size = result.peer_size
        self.count = result.count
        idx = result.matched_indices
        self.matched = None if idx is None else [items[int(i)] for i in idx]


class _StreamingSession:
    """The wrapper both roles share (see the module)."""

    def __init__(
        self,
        inner: InitiatorSession | ResponderSession,
        workdir: str | os.PathLike[str],
        chunk_items: int,
        frame_items: int,
        bucket_items: int = DEFAULT_BUCKET_ITEMS,
    ) -> None:
        self._inner = inner
        self._frame_items = frame_items
        self._bucket_items = bucket_items
        self._workdir = workdir
        self._chunk_items = chunk_items
        self._party: StreamParty | None = None
        self._handover: StreamHandover | None = None
        self._pending: bytes | None = None
        self._chunks = self._sent = self._received = 0
        self._own_sent = False
        self._progress = inner._progress
        self._expected = 0  # chunks both ways (pulls aside), fixed by the sizes once the handshake is over

    # -- the transport interface -------------------------------------------------------------------------
    @property
    def session(self) -> InitiatorSession | ResponderSession:
        """The session party: manifest, peer, record, audit package as for every engine."""
        return self._inner

    @property
    def role(self) -> str:
        return self._inner.role

    @property
    def done(self) -> bool:
        return self._inner.done

    @property
    def failed(self) -> bool:
        return self._inner.failed

    @property
    def result(self) -> SessionResult | None:
        return self._inner.result

    @property
    def peer_authenticated(self) -> bool:
        return self._inner.peer_authenticated

    @property
    def peer_name(self) -> str | None:
        return self._inner.peer_name

    @property
    def streaming(self) -> bool:
        """True once the handshake handed over to the streaming engine."""
        return self._party is not None

    @property
    def max_next_message(self) -> int:
        if self._party is None or self.done:
            return self._inner.max_next_message
        return max(self._party.max_chunk_bytes, HEADER.size + SIGNATURE_BYTES + TAG_BYTES)

    def start(self) -> bytes:
        return self._inner.start()

    def receive(self, data: bytes) -> bytes | None:
        if self._party is None:
            out = self._inner.receive(data)
            handover = take_handover(self._inner)
            if handover is None:
                return out
            self._begin(handover)
            if out is not None:  # the responder's accept: it then waits for the first request chunk
                return out
            return self._step(None)  # the initiator: its first chunk
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes")
        if self.done:
            raise LocalProtocolError("this session is over")
        return self._step(bytes(data))

    def abort(self, reason: str) -> None:
        if self._party is not None:
            self._party.close()
        self._inner.abort(reason)

    def record(self) -> dict[str, Any]:
        return self._inner.record()

    # -- the streaming part --------------------------------------------------------------------------------
    def _begin(self, handover: StreamHandover) -> None:
        ctx = handover.ctx
        ot = ctx.manifest.psi_suite == STREAM_OT_PSI_SUITE
        chosen = ENGINES["ot" if ot else "dh"]
        kind = chosen.initiator if ctx.role == "initiator" else chosen.responder
        engine: dict[str, Any] = (
            {"bucket_items": self._bucket_items} if ot
            else {"frame_items": self._frame_items, "executor": self._inner._executor}  # the session's
        )  # fmt: skip
        sizes = (ctx.own_padded, ctx.peer_padded)
        n_i, n_r = sizes if ctx.role == "initiator" else sizes[::-1]
        per = self._bucket_items if ot else self._frame_items
        self._expected = chosen.chunks(ctx.manifest.mode, n_i, n_r, per)
        try:
            self._party = kind(
                handover.items, mode=ctx.manifest.mode, session_id=handover.session_id,
                session_key=handover.key, identity=self._identity(), peer=PublicIdentity(ctx.peer_key),
                workdir=self._workdir, padded_size=ctx.own_padded, max_peer_items=ctx.peer_padded,
                chunk_items=self._chunk_items, seed=handover.seed, **engine,
            )  # fmt: skip
        except BaseException as exc:
            self._fail(exc)
            raise
        self._handover = handover

    def _identity(self) -> Identity:
        return self._inner._identity

    def _step(self, data: bytes | None) -> bytes | None:
        party = self._party
        if party is None:  # pragma: no cover - called after _begin only
            raise LocalProtocolError("no streaming party")
        try:
            self._prepare(party)
            if data is not None:
                self._received += len(data)
                if data != PULL:
                    self._chunks += 1
                    if self._pending is not None:  # the peer's turn is over only once ours is sent
                        raise UnexpectedChunk("the peer sent a chunk while this party was still sending")
                    party.receive_chunk(data)
            out, self._pending = self._pending or party.next_chunk(), None
            if out is None and data == PULL:
                raise UnexpectedChunk("the peer pulled while this party has nothing to send")
            if out is not None:
                self._pending = party.next_chunk()  # look ahead: is this the last chunk we send?
                self._chunks += 1
                self._own_sent = True
            elif not party.done:
                if data is None or data == PULL:
                    raise LocalProtocolError("the streaming exchange stalled")
                out = PULL
            if out is not None:
                self._sent += len(out)
            if self._progress is not None:
                done = (
                    self._chunks
                    if party.done and self._pending is None
                    else min(self._chunks, self._expected)
                )
                self._progress(STAGE_STREAM, done, max(self._expected, done))
            if party.done and self._pending is None:
                self._complete(party.result)
            return out
        except BaseException as exc:
            self._fail(exc)
            raise

    def _prepare(self, party: StreamParty) -> None:
        """The own set on disk, once; the progress callback sees it as one step (it is one call)."""
        if party.prepared:
            return
        if self._progress is not None:
            self._progress(STAGE_STREAM_PREPARE, 0, 1)
        party.prepare()
        if self._progress is not None:
            self._progress(STAGE_STREAM_PREPARE, 1, 1)

    def _complete(self, result: StreamResult) -> None:
        handover = self._handover
        if handover is None:  # pragma: no cover - set in _begin
            raise LocalProtocolError("no hand-over")
        ctx: ResultContext = handover.ctx
        session_result = make_result(ctx, _StreamOutcome(result, handover.items), result.transcript_hash)
        complete(self._inner, session_result, result.transcript_hash, chunks=self._chunks, sent=self._sent,
                 received=self._received)  # fmt: skip
        self._close()

    def _fail(self, exc: BaseException) -> None:
        fail(self._inner, exc, chunks=self._chunks, sent=self._sent, received=self._received,
             own_set_sent=self._own_sent)  # fmt: skip
        self._close()

    def _close(self) -> None:
        if self._party is not None:
            self._party.close()
        self._pending = None
        self._handover = None


class StreamingInitiatorSession(_StreamingSession):
    """An :class:`~blindmatch.session.InitiatorSession` on a streaming engine: the same arguments
    (``psi_suite`` is ``STREAM_PSI_SUITE``, the default, or ``STREAM_OT_PSI_SUITE``), plus ``workdir``
    for the spill files and ``chunk_items`` (the memory bound, docs/streaming.md); ``frame_items``
    (elements per chunk on the wire, DH) and ``bucket_items`` (items per bucket, OT) must be the same on
    both sides (default 65536 each)."""

    def __init__(
        self,
        identity: Identity,
        peer: PublicIdentity | bytes,
        *,
        workdir: str | os.PathLike[str],
        chunk_items: int = DEFAULT_CHUNK_ITEMS,
        frame_items: int = DEFAULT_FRAME_ITEMS,
        bucket_items: int = DEFAULT_BUCKET_ITEMS,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("psi_suite", STREAM_PSI_SUITE)
        inner = InitiatorSession(identity, peer, **kwargs)
        if inner.manifest is None or inner.manifest.psi_suite not in STREAM_SUITES:
            raise InvalidParameter("a streaming initiator proposes a streaming engine (STREAM_SUITES)")
        super().__init__(inner, workdir, chunk_items, frame_items, bucket_items)


class StreamingResponderSession(_StreamingSession):
    """A :class:`~blindmatch.session.ResponderSession` that can hand over to the streaming engine: the
    same arguments, plus ``workdir``, ``chunk_items``, ``frame_items`` and ``bucket_items``. Whether a
    proposal on a streaming engine is accepted is the policy's choice (``Policy.psi_suites``); a session
    on another engine runs unchanged."""

    def __init__(
        self,
        identity: Identity,
        peers: PeerStore,
        *args: Any,
        workdir: str | os.PathLike[str],
        chunk_items: int = DEFAULT_CHUNK_ITEMS,
        frame_items: int = DEFAULT_FRAME_ITEMS,
        bucket_items: int = DEFAULT_BUCKET_ITEMS,
        **kwargs: Any,
    ) -> None:
        inner = ResponderSession(identity, peers, *args, **kwargs)
        super().__init__(inner, workdir, chunk_items, frame_items, bucket_items)


# mypy --strict checks that both wrappers satisfy the transport interface
_SI: type[SessionParty] = StreamingInitiatorSession
_SR: type[SessionParty] = StreamingResponderSession
