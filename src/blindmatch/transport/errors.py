"""Transport failures, as subclasses of the library's error classes."""

from __future__ import annotations

from ..errors import LocalError, RemoteError, RemoteProtocolError

__all__ = [
    "FrameTooLarge",
    "HandshakeDropped",
    "ListenError",
    "PeerDisconnected",
    "PeerTimeout",
    "PeerUnreachable",
    "SessionBudgetExceeded",
    "TooManySessions",
]


class PeerDisconnected(RemoteProtocolError):
    """The peer closed or reset the connection before the exchange was over."""


class PeerTimeout(RemoteProtocolError):
    """The peer sent nothing (or too little) within the read timeout."""


class FrameTooLarge(RemoteProtocolError):
    """A frame announced a length above the agreed maximum (refused before reading it)."""


class PeerUnreachable(RemoteError):
    """No connection could be made to the peer (refused, unreachable, timed out)."""


class SessionBudgetExceeded(RemoteProtocolError):
    """The peer asked for more sessions today than its budget allows."""


class HandshakeDropped(RemoteProtocolError):
    """The server dropped a connection that had not yet sent its whole first frame, to make room for
    another one (too many connections were waiting, from its source or in all)."""


class TooManySessions(RemoteProtocolError):
    """The peer already runs as many sessions at once as the server allows one peer."""


class ListenError(LocalError):
    """The server could not listen on the requested address (e.g. the port is busy)."""
