"""Errors specific to the PSI protocol (all subclasses of :mod:`blindmatch.errors` classes)."""

from __future__ import annotations

from ..errors import LocalError, LocalProtocolError, RemoteProtocolError
from ..hazmat.group import InvalidGroupElement

__all__ = [
    "InvalidGroupElement",
    "MalformedMessage",
    "ModeNotAllowed",
    "PeerTooLarge",
    "StateAlreadyUsed",
    "StateError",
    "UnexpectedMessage",
]


class MalformedMessage(RemoteProtocolError):
    """A peer message does not parse: bad magic, version, suite, lengths, truncation, trailing bytes."""


class UnexpectedMessage(RemoteProtocolError):
    """A well-formed message that does not belong here: wrong type, session, mode or counts (replays,
    reordering, messages of another session)."""


class ModeNotAllowed(RemoteProtocolError):
    """The initiator asked for a mode the responder does not allow."""


class PeerTooLarge(RemoteProtocolError):
    """The peer's set is larger than ``max_peer_items`` (checked before any cryptographic work)."""


class StateError(LocalError):
    """A saved PSI state cannot be used: corrupt, of another format or version, of the other role, saved
    with other parameters, or restored with other items than it was saved with."""


class StateAlreadyUsed(LocalProtocolError):
    """A party (live or restored) that already consumed a peer message was given a different one.

    Answering it would evaluate a second message under the same secret scalar, which gives the peer an
    oracle; a byte-identical message instead gets the same output again.
    """
