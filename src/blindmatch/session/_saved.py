"""Saved session state (``party.save_state()`` / ``Role.restore_state(state, ...)``), format version 1.

A session party's randomness all derives from its seed (``_seeded``), so its state after a step is the seed
plus the messages it consumed: restoring re-executes the party with the same arguments and those messages,
and checks it reaches the same transcript hash. The state holds no indicator value: the own items are given
again on restore and bound by a keyed digest. It does hold the seed (which makes the ephemeral key, the
traffic keys and the PSI secret scalar): keep it like a key (``blindmatch.transport.write_state``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._derive import derive_key
from .._strictjson import DuplicateKeyError, object_without_duplicates
from ..errors import InvalidParameter, MalformedFile
from ..psi import IndicatorItems
from ._canonjson import canonical_json

__all__ = ["STATE_FORMAT", "STATE_VERSION", "SavedState", "items_binding"]

STATE_FORMAT = "blindmatch-session-state"
STATE_VERSION = 1
LABEL_STATE_ITEMS = b"blindmatch/session/v1 state items"


def items_binding(seed: bytes, items: Iterable[bytes] | IndicatorItems) -> bytes:
    """HMAC-SHA-256 under a seed-derived key of the own items (sorted), so a state restored with other items
    fails, while the state itself shows no item (not even an unkeyed hash a dictionary could invert).

    Indicators are bound by kind and canonical value, every kind they name (a responder's, before it
    knows which kinds take part); raw items (an initiator's, already chosen) by their bytes."""
    key = derive_key(seed, LABEL_STATE_ITEMS)
    if isinstance(items, IndicatorItems):
        doc: Any = {k: sorted(items.values(k)) for k in items.kinds}
    else:
        doc = sorted({it.hex() for it in items})
    return hmac.new(key, canonical_json({"items": doc}), hashlib.sha256).digest()


@dataclass(frozen=True, repr=False)
class SavedState:
    """One saved state: everything but the constructor arguments the caller gives again."""

    role: str
    state: str
    params: bytes  # SHA-256 of the role, both keys where known, and the items binding
    seed: bytes
    manifest: dict[str, Any] | None  # the initiator's proposal (a responder gets it again from the hello)
    received: tuple[bytes, ...]  # every message consumed, in order
    transcript_hash: bytes
    psi: bytes | None = None  # the PSI party's own saved state, once it exists
    psi_request: bytes | None = None  # initiator awaiting the response: the PSI request it sent

    def to_bytes(self) -> bytes:
        b64 = base64.b64encode
        return canonical_json(
            {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "role": self.role,
                "state": self.state,
                "params": self.params.hex(),
                "seed": self.seed.hex(),
                "manifest": self.manifest,
                "received": [b64(m).decode("ascii") for m in self.received],
                "transcript_hash": self.transcript_hash.hex(),
                "psi": _b64_text(self.psi),
                "psi_request": _b64_text(self.psi_request),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, role: str) -> SavedState:
        """Parse a state of ``role``; a malformed one is a :class:`MalformedFile`, one of another role or
        version an :class:`InvalidParameter`."""
        try:
            doc = json.loads(data, object_pairs_hook=object_without_duplicates)
        except (DuplicateKeyError, ValueError, RecursionError, UnicodeDecodeError):
            raise MalformedFile("the session state is not a JSON object") from None
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise MalformedFile("not a blindmatch session state")
        if doc.get("version") != STATE_VERSION:
            raise InvalidParameter(f"unsupported session state version {doc.get('version')!r}")
        if doc.get("role") != role:
            raise InvalidParameter(f"this state belongs to a {doc.get('role')}, not a {role}")
        try:
            return cls(
                role=role,
                state=str(doc["state"]),
                params=bytes.fromhex(doc["params"]),
                seed=bytes.fromhex(doc["seed"]),
                manifest=doc["manifest"] if isinstance(doc["manifest"], dict) else None,
                received=tuple(base64.b64decode(m, validate=True) for m in doc["received"]),
                transcript_hash=bytes.fromhex(doc["transcript_hash"]),
                psi=_b64_or_none(doc["psi"]),
                psi_request=_b64_or_none(doc["psi_request"]),
            )
        except (KeyError, TypeError, ValueError):
            raise MalformedFile("the session state lacks a member or has a malformed one") from None


def _b64_text(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def _b64_or_none(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("not base64 text")
    return base64.b64decode(value, validate=True)


def params_hash(role: str, own_key: bytes, peer_key: bytes | None, binding: bytes) -> bytes:
    """What a state is bound to: the role, our key, the peer's key (the initiator's, known from the start)
    and the items binding."""
    doc = {"role": role, "self": own_key.hex(), "peer": peer_key.hex() if peer_key else None,
           "items": binding.hex()}  # fmt: skip
    return hashlib.sha256(b"blindmatch/session/v1 state params\x00" + canonical_json(doc)).digest()
