"""Every random choice of a PSI party, derived from its one 32-byte seed (see ``docs/protocol.md``,
"Randomness").

Each use has its own label; a label is never reused for another purpose. Nothing here draws from a running
random stream, so the order in which a party asks for its choices cannot change them, and a party restored
from a saved state re-derives exactly what the original derived.

==================================================  =================================================
label                                               use
==================================================  =================================================
``blindmatch/psi/v1/initiator/session-id``          ``derive_bytes(seed, label, 16)``: the session id
``blindmatch/psi/v1/initiator/scalar``              ``clamp_scalar(derive_key(seed, label))``: ``a``
``blindmatch/psi/v1/responder/scalar``              ``clamp_scalar(derive_key(seed, label))``: ``b``
``blindmatch/psi/v1/initiator/request-order``       ``derive_permutation`` of the sorted distinct items
``blindmatch/psi/v1/responder/response-order``      ``derive_permutation`` of the sorted distinct items
``blindmatch/psi/v1/state/items-key``               HMAC key of the item-set hash in a saved state
==================================================  =================================================

A party's own list is its distinct items sorted by their bytes, then permuted: position ``i`` of the
message carries item ``sorted_items[perm[i]]``. Lists that only their number may be learned from (the
comparison hashes in the count-only modes) are sorted by hash value and need no randomness.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from .._derive import derive_bytes, derive_key, derive_permutation
from ..hazmat.group import clamp_scalar

__all__ = [
    "LABEL_INITIATOR_ORDER",
    "LABEL_INITIATOR_SCALAR",
    "LABEL_RESPONDER_ORDER",
    "LABEL_RESPONDER_SCALAR",
    "LABEL_SESSION_ID",
    "LABEL_STATE_ITEMS",
    "items_mac",
    "own_order",
    "party_scalar",
    "session_id",
]

LABEL_SESSION_ID = b"blindmatch/psi/v1/initiator/session-id"
LABEL_INITIATOR_SCALAR = b"blindmatch/psi/v1/initiator/scalar"
LABEL_RESPONDER_SCALAR = b"blindmatch/psi/v1/responder/scalar"
LABEL_INITIATOR_ORDER = b"blindmatch/psi/v1/initiator/request-order"
LABEL_RESPONDER_ORDER = b"blindmatch/psi/v1/responder/response-order"
LABEL_STATE_ITEMS = b"blindmatch/psi/v1/state/items-key"

_SCALAR_LABELS = {"initiator": LABEL_INITIATOR_SCALAR, "responder": LABEL_RESPONDER_SCALAR}
_ORDER_LABELS = {"initiator": LABEL_INITIATOR_ORDER, "responder": LABEL_RESPONDER_ORDER}
SESSION_ID_BYTES = 16


def session_id(seed: bytes) -> bytes:
    """The initiator's 16-byte session id."""
    return derive_bytes(seed, LABEL_SESSION_ID, SESSION_ID_BYTES)


def party_scalar(seed: bytes, role: str, request: bytes = b"") -> bytes:
    """The clamped X25519 scalar of ``role``: ``a`` for the initiator; for the responder ``b``, bound to the
    request it answers (``context = SHA-256(request)``), so that a responder restored from an old copy of
    its state and given another request answers it under an unrelated scalar (a fresh session, not a
    second evaluation of ``b``), while the same request gets the same answer."""
    if role == "responder":
        context = hashlib.sha256(request).digest()
        return clamp_scalar(derive_key(seed, _SCALAR_LABELS[role], context=context))
    return clamp_scalar(derive_key(seed, _SCALAR_LABELS[role]))


def own_order(seed: bytes, role: str, sorted_items: Sequence[bytes]) -> list[bytes]:
    """The order in which ``role`` sends its (sorted, distinct) items, blinded."""
    perm = derive_permutation(seed, _ORDER_LABELS[role], len(sorted_items))
    return [sorted_items[i] for i in perm]


def items_mac(seed: bytes, sorted_items: Sequence[bytes]) -> bytes:
    """HMAC-SHA-256 of the sorted distinct items (``u32 count || (u32 len || item)*``) under a key derived
    from the seed: binds a saved state to its input set. It hides nothing from whoever holds the state
    (the seed is in it); it only keeps the items out of the state in the clear."""
    mac = hmac.new(derive_key(seed, LABEL_STATE_ITEMS), len(sorted_items).to_bytes(4, "big"), hashlib.sha256)
    for x in sorted_items:
        mac.update(len(x).to_bytes(4, "big"))
        mac.update(x)
    return mac.digest()
