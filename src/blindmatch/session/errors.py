"""Errors of the session layer.

Everything a hostile or broken peer can cause is a :class:`SessionError`, itself a
:class:`~blindmatch.errors.RemoteProtocolError`; each attack has its own class so callers (and tests) can
tell them apart. A party that raised one of these is dead: it refuses further use and sends nothing more.
"""

from __future__ import annotations

from ..errors import MalformedFile, RemoteProtocolError
from ..psi._errors import MalformedMessage as _PsiMalformedMessage

__all__ = [
    "BadSignature",
    "CapExceeded",
    "Expired",
    "InvalidRecord",
    "MalformedMessage",
    "OutOfOrder",
    "PaddingViolation",
    "Reflected",
    "Refused",
    "Replayed",
    "SessionError",
    "TamperedMessage",
    "TranscriptMismatch",
    "UnknownPeer",
    "UnsupportedVersion",
    "WrongPeer",
    "WrongSession",
]


class SessionError(RemoteProtocolError):
    """A session message from the peer is unacceptable (root of the session's remote errors)."""


class MalformedMessage(SessionError, _PsiMalformedMessage):
    """A session message cannot be parsed (truncated, wrong magic, bad lengths, bad fields), or its PSI
    payload is unacceptable to the PSI core (the PSI error is then its ``__cause__``).

    It subclasses :class:`blindmatch.psi.MalformedMessage`, so ``except blindmatch.psi.MalformedMessage``
    catches both layers' malformed messages; a session user sees only this class."""


class UnsupportedVersion(MalformedMessage):
    """A session message or manifest names a protocol version or suite this library does not speak."""


class TamperedMessage(SessionError):
    """A message was altered: its signature or its authentication tag does not verify."""


class BadSignature(TamperedMessage):
    """The Ed25519 signature over a message does not verify under the sender's key."""


class UnknownPeer(SessionError):
    """The hello is signed by a key that is not in the local trust store."""


class WrongPeer(SessionError):
    """The message comes from (or is addressed to) another identity than the one this session runs with."""


class WrongSession(SessionError):
    """The message belongs to another session (its session id differs): replayed from elsewhere."""


class Replayed(SessionError):
    """The message was already received, or its session id was already used (replay)."""


class TranscriptMismatch(Replayed):
    """The message is bound to another transcript (a replay from another run of the same session id)."""


class OutOfOrder(SessionError):
    """The message is not the one expected next (reordered, skipped or of the wrong type)."""


class Reflected(SessionError):
    """The message was sent by this party's own role: one of our messages was reflected back to us."""


class Expired(SessionError):
    """The manifest's validity window does not contain the current time."""


class Refused(SessionError):
    """The responder refused the manifest; ``reason`` is the responder's (signed) explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the responder refused the session: {reason}")
        self.reason = reason


class CapExceeded(SessionError):
    """The peer's set (declared or sent) is larger than the cap agreed in the manifest."""


class PaddingViolation(SessionError):
    """The peer's set size breaks the manifest's padding rule or differs from what the peer declared."""


class InvalidRecord(MalformedFile):
    """A disclosure record is malformed, or its signature does not verify under the expected key."""


class InvalidAuditPackage(MalformedFile):
    """An audit package is malformed, not signed by its author, altered, or not sealed to this auditor."""
