"""Streaming DH-PSI on one machine: inputs far larger than memory (``docs/streaming.md``).

Sans-I/O parties that take and give AEAD-protected chunks, permute every list globally on disk (sorted
by blinded value) before the first byte leaves, compare with a partitioned join on disk and sign the
transcript at the end. Memory is bounded by ``chunk_items`` and ``frame_items``, not by the set sizes.

Either the caller supplies the session key, the session id and both identities, or the session handshake
does: :class:`StreamingInitiatorSession` / :class:`StreamingResponderSession` run it and then stream
(docs/sessions.md, "Streaming").
"""

from __future__ import annotations

from ._base import DEFAULT_CHUNK_ITEMS, DEFAULT_FRAME_ITEMS, StreamMode, StreamResult
from ._errors import (
    BadSignature,
    ChunkAuthError,
    MalformedChunk,
    SkewedHashes,
    StreamRemoteError,
    TruncatedStream,
    UnexpectedChunk,
)
from ._frames import STREAM_ID, FrameCodec, Transcript
from ._otstream import DEFAULT_BUCKET_ITEMS, OT_STREAM_ID, OtStreamInitiator, OtStreamResponder
from ._party import StreamInitiator, StreamResponder
from ._run import exchange, run_streaming_in_memory, select_items
from ._session import PULL, StreamingInitiatorSession, StreamingResponderSession

__all__ = [
    "DEFAULT_BUCKET_ITEMS",
    "DEFAULT_CHUNK_ITEMS",
    "DEFAULT_FRAME_ITEMS",
    "OT_STREAM_ID",
    "PULL",
    "STREAM_ID",
    "BadSignature",
    "ChunkAuthError",
    "FrameCodec",
    "MalformedChunk",
    "OtStreamInitiator",
    "OtStreamResponder",
    "SkewedHashes",
    "StreamInitiator",
    "StreamMode",
    "StreamRemoteError",
    "StreamResponder",
    "StreamResult",
    "StreamingInitiatorSession",
    "StreamingResponderSession",
    "Transcript",
    "TruncatedStream",
    "UnexpectedChunk",
    "exchange",
    "run_streaming_in_memory",
    "select_items",
]
