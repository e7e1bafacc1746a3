"""The commitment each session party sends in its first signed message (docs/audit.md, "The commitment").

``commitment(role, session_id, seed, padded)`` binds the party to its one seed (which fixes its ephemeral
key, PSI scalar, shuffles and dummies) and to its padded item list (real items and dummies), so an auditor
holding the opening can re-execute every message the party sent. It is hiding because the seed is 32
secret random bytes; binding because two openings would be a SHA-256 collision.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from .._derive import derive_key

__all__ = [
    "COMMITMENT_BYTES",
    "LABEL_COMMITMENT",
    "LABEL_COMMIT_SALT",
    "LABEL_ITEMS",
    "LABEL_SELECTION",
    "commitment",
    "items_root",
    "opens",
    "selected_for_audit",
]

COMMITMENT_BYTES = 32
LABEL_COMMIT_SALT = b"blindmatch/audit/v1 commitment salt"
LABEL_ITEMS = b"blindmatch/audit/v1 items\x00"
LABEL_COMMITMENT = b"blindmatch/audit/v1 commitment\x00"
LABEL_SELECTION = b"blindmatch/audit/v1 selection"
_ROLE_BYTE = {"initiator": b"\x00", "responder": b"\x01"}


def items_root(padded: Iterable[bytes]) -> bytes:
    """SHA-256 of the padded list sorted bytewise: its count (u64), then each item (u32 length, bytes)."""
    items = sorted(padded)
    h = hashlib.sha256(LABEL_ITEMS)
    h.update(len(items).to_bytes(8, "big"))
    for it in items:
        h.update(len(it).to_bytes(4, "big"))
        h.update(it)
    return h.digest()


def commitment(role: str, session_id: bytes, seed: bytes, padded: Iterable[bytes]) -> bytes:
    """The 32-byte commitment of ``role`` in session ``session_id`` to ``seed`` and its padded list."""
    if role not in _ROLE_BYTE or len(session_id) != 16 or len(seed) != 32:
        raise ValueError("commitment: role is initiator or responder, session id 16 bytes, seed 32 bytes")
    salt = derive_key(seed, LABEL_COMMIT_SALT)
    h = hashlib.sha256(LABEL_COMMITMENT)
    for part in (_ROLE_BYTE[role], session_id, salt, seed, items_root(padded)):
        h.update(part)
    return h.digest()


def opens(value: bytes, role: str, session_id: bytes, seed: bytes, padded: Iterable[bytes]) -> bool:
    """Whether ``value`` is the commitment of this opening (compared in constant time)."""
    return hmac.compare_digest(value, commitment(role, session_id, seed, padded))


def selected_for_audit(seed: bytes, transcript_hash: bytes, rate_ppm: int) -> bool:
    """A party's routine-audit coin (docs/audit.md): ``HMAC-SHA-256(derive_key(seed, LABEL_SELECTION),
    transcript_hash)``, read as a big-endian 64-bit number, below ``rate_ppm * 2^64 // 10^6``."""
    if not 0 <= rate_ppm <= 10**6:
        raise ValueError("rate_ppm is in 0..1000000")
    draw = hmac.new(derive_key(seed, LABEL_SELECTION), transcript_hash, hashlib.sha256).digest()
    return int.from_bytes(draw[:8], "big") < rate_ppm * (1 << 64) // 10**6
