"""Errors specific to the PSI protocol (all subclasses of :mod:`blindmatch.errors` classes)."""

from __future__ import annotations

from ..errors import RemoteProtocolError
from ..hazmat.group import InvalidGroupElement

__all__ = [
    "InvalidGroupElement",
    "MalformedMessage",
    "ModeNotAllowed",
    "PeerTooLarge",
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
