"""Authenticated exchange sessions around the PSI core.

Identities (Ed25519), a trust store of peers, a manifest both sides agree to, a responder policy, a
signed and encrypted transcript, size caps and padding, and signed disclosure records. The parties are
sans-I/O like the PSI core: bytes in, bytes out. See docs/sessions.md and docs/threat-model.md.
"""

from __future__ import annotations

from ._states import SessionState
from .audit_package import open_package, read_package_header
from .errors import (
    BadSignature,
    CapExceeded,
    Expired,
    InvalidAuditPackage,
    InvalidRecord,
    MalformedMessage,
    OutOfOrder,
    PaddingViolation,
    Reflected,
    Refused,
    Replayed,
    SessionError,
    TamperedMessage,
    TranscriptMismatch,
    UnknownPeer,
    UnsupportedVersion,
    WrongPeer,
    WrongSession,
)
from .identity import Identity, PublicIdentity, fingerprints_match, normalize_fingerprint
from .manifest import (
    CHANNEL_SUITE,
    DEFAULT_PADDINGS,
    MODES,
    PROTOCOL,
    PSI_SUITE,
    AuditTerms,
    Manifest,
    Policy,
)
from .padding import PADDING_RULES, padded_size
from .parties import InitiatorSession, ResponderSession, SessionParty, SessionResult, run_session_in_memory
from .peers import Peer, PeerStore
from .record import verify_record

__all__ = [
    "CHANNEL_SUITE",
    "DEFAULT_PADDINGS",
    "MODES",
    "PADDING_RULES",
    "PROTOCOL",
    "PSI_SUITE",
    "AuditTerms",
    "BadSignature",
    "CapExceeded",
    "Expired",
    "Identity",
    "InitiatorSession",
    "InvalidAuditPackage",
    "InvalidRecord",
    "MalformedMessage",
    "Manifest",
    "OutOfOrder",
    "PaddingViolation",
    "Peer",
    "PeerStore",
    "Policy",
    "PublicIdentity",
    "Reflected",
    "Refused",
    "Replayed",
    "ResponderSession",
    "SessionError",
    "SessionParty",
    "SessionResult",
    "SessionState",
    "TamperedMessage",
    "TranscriptMismatch",
    "UnknownPeer",
    "UnsupportedVersion",
    "WrongPeer",
    "WrongSession",
    "fingerprints_match",
    "normalize_fingerprint",
    "open_package",
    "padded_size",
    "read_package_header",
    "run_session_in_memory",
    "verify_record",
]
