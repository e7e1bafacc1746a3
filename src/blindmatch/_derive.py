"""One secret seed per party; every random choice is derived from it by a label and an index.

A party draws one 32-byte seed (from ``os.urandom`` or an injected ``rng``) and never a running random
stream: each secret or random choice is ``derive_key(seed, label, index)`` (HKDF-SHA-256), expanded with
ChaCha20 when it needs more than 32 bytes. So the draws do not depend on the order in which code asks for
them (a refactor cannot silently change them), an auditor given the seed can re-execute the party, and a
streamed run reproduces an in-memory one. Labels are fixed ASCII strings, one per use (listed in
``docs/protocol.md``), and must never be reused for another purpose.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import InvalidParameter

__all__ = ["SEED_BYTES", "derive_bytes", "derive_key", "derive_permutation", "new_seed", "seed_once"]

SEED_BYTES = 32
_SALT = b"blindmatch/derive/v1"
_U64 = struct.Struct(">Q")
_ZERO_NONCE = bytes(16)


def new_seed(rng: Callable[[int], bytes] | None = None) -> bytes:
    """A fresh 32-byte seed from ``rng`` (default ``os.urandom``)."""
    out = (rng or os.urandom)(SEED_BYTES)
    if not isinstance(out, bytes) or len(out) != SEED_BYTES:
        raise InvalidParameter("rng(n) must return exactly n bytes")
    return out


def seed_once(seed: bytes, error: type[Exception] = InvalidParameter) -> Callable[[int], bytes]:
    """An ``rng`` that gives ``seed`` to a party's one 32-byte draw (``new_seed``) and raises ``error`` on
    any other draw (a second one would repeat the first): how a caller hands a party a chosen seed."""
    draws = [seed]

    def rng(n: int) -> bytes:
        if n != len(seed) or not draws:
            raise error("a party draws only its one 32-byte seed, once")
        return draws.pop()

    return rng


def _check(seed: bytes, label: bytes, index: int) -> None:
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InvalidParameter("a seed is 32 bytes")
    if not isinstance(label, bytes) or not label or len(label) > 255:
        raise InvalidParameter("a derivation label is 1 to 255 bytes")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1 << 64:
        raise InvalidParameter("a derivation index is an integer in [0, 2^64)")


def derive_key(seed: bytes, label: bytes, index: int = 0, context: bytes = b"") -> bytes:
    """``HKDF-SHA-256(ikm=seed, salt="blindmatch/derive/v1", info=len(label) || label || index_u64be ||
    context)``, 32 bytes. ``context`` (empty for most uses) binds a derivation to data such as the hash of
    a peer message; the label's length prefix and the fixed-size index keep ``info`` unambiguous."""
    _check(seed, label, index)
    if not isinstance(context, bytes) or len(context) > 1024:
        raise InvalidParameter("a derivation context is at most 1024 bytes")
    info = bytes([len(label)]) + label + _U64.pack(index) + context
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(seed)


def derive_bytes(seed: bytes, label: bytes, n: int, index: int = 0) -> bytes:
    """``n`` bytes: the ChaCha20 keystream (zero nonce and counter) under ``derive_key(seed, label,
    index)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidParameter("n must be a non-negative integer")
    key = derive_key(seed, label, index)
    enc = Cipher(algorithms.ChaCha20(key, _ZERO_NONCE), mode=None).encryptor()
    return enc.update(bytes(n))


def derive_permutation(seed: bytes, label: bytes, n: int, index: int = 0) -> list[int]:
    """A uniformly random permutation of ``range(n)``: indices sorted by 64-bit little-endian keys taken
    from ``derive_bytes(seed, label, 8 * n, index)`` (a stable sort; ties have probability ~n^2/2^65)."""
    if n <= 1:
        return list(range(max(n, 0)))
    keys = np.frombuffer(derive_bytes(seed, label, 8 * n, index), dtype="<u8")
    order: list[int] = np.argsort(keys, kind="stable").tolist()
    return order
