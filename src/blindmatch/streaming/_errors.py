"""Errors of the streaming exchange (all under :class:`blindmatch.errors.BlindmatchError`).

Hostile chunk streams can only produce :class:`StreamRemoteError` subclasses (and the PSI layer's
:class:`~blindmatch.psi.PeerTooLarge` and :class:`~blindmatch.hazmat.InvalidGroupElement`, also remote).
"""

from __future__ import annotations

from ..errors import RemoteProtocolError

__all__ = [
    "BadSignature",
    "ChunkAuthError",
    "MalformedChunk",
    "SkewedHashes",
    "StreamRemoteError",
    "TruncatedStream",
    "UnexpectedChunk",
]


class StreamRemoteError(RemoteProtocolError):
    """Root of the errors a peer's chunk stream causes."""


class MalformedChunk(StreamRemoteError):
    """A chunk does not parse: too short, bad magic, version or flags, or a body of the wrong length."""


class UnexpectedChunk(StreamRemoteError):
    """A well-formed chunk that does not belong here: wrong direction, session, mode, message type or
    index (reordered, repeated, dropped or foreign chunks), counts that contradict the framing rule, or
    elements out of their required (strictly ascending) order."""


class ChunkAuthError(StreamRemoteError):
    """A chunk failed authentication (changed bytes, another key or session)."""


class TruncatedStream(StreamRemoteError):
    """The stream ended before the exchange finished (the final chunk or the signature is missing)."""


class BadSignature(StreamRemoteError):
    """The peer's signature over the transcript does not verify."""


class SkewedHashes(StreamRemoteError):
    """A hash list the peer chose crowds one partition far beyond what pseudorandom hashes give."""
