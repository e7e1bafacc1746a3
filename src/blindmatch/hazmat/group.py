"""Suite ``blindmatch-psi-v1/x25519-ell2ro-sha512``: hash to Curve25519's prime-order subgroup, then X25519.

``hash_to_group(msg)``:

1. ``h = expand_message_xmd(SHA-512, msg, DST, 64)`` (RFC 9380 section 5.3.1);
2. ``Q = from_uniform(h[:32]) + from_uniform(h[32:])`` on edwards25519 (libsodium's Elligator 2 map with
   cofactor clearing, so ``Q`` lies in the prime-order subgroup; the sum of two maps is RFC 9380's
   random-oracle shape, which the security proofs of DH-based PSI need);
3. ``u = (1 + y) / (1 - y) mod p``, the Montgomery u coordinate of ``Q`` (all inversions of a batch are done
   with one modular exponentiation, Montgomery's trick); the identity (``y == 1``) is rejected.

Blinding is X25519 with a clamped scalar ``2^254 + 8k``: on the prime-order subgroup this is a bijection,
the x-only ladder is harmless (``x([k]Q) == x([k](-Q))``), and the results commute:
``X25519(a, X25519(b, u)) == X25519(b, X25519(a, u))``.

The suite differs from RFC 9380's ``edwards25519_XMD:SHA-512_ELL2_RO_`` only in how the sign of each
Elligator output is chosen (libsodium takes it from the input's top bit; the RFC from a square test) and in
that the output is a Montgomery u coordinate. The tests check that patching the RFC sign in reproduces the
RFC vectors exactly.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ..errors import InvalidParameter
from ._errors import InvalidGroupElement
from ._sodium import edwards_sum_of_maps
from ._x25519 import x25519_many, x25519_many_then
from .xmd import xmd64_function

__all__ = [
    "ELEMENT_BYTES",
    "FIELD_P",
    "SMALL_ORDER_ENCODINGS",
    "SUITE_ID",
    "InvalidGroupElement",
    "blind",
    "blind_and_hash",
    "clamp_scalar",
    "edwards_to_montgomery",
    "hash_to_edwards",
    "hash_to_group",
    "hash_to_group_and_blind",
    "new_scalar",
    "validate_peer_elements",
]

SUITE_ID = b"blindmatch-psi-v1/x25519-ell2ro-sha512"
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
COMPARE_HASH_BYTES = 16
FIELD_P = 2**255 - 19
_MASK255 = (1 << 255) - 1

# Every encoding of a point of small order on Curve25519 or its twist (u = 0, 1, p - 1, the two points of
# order 8, and their non-canonical forms u + p); canonical ones are listed, the rest fail the u < p check.
_SMALL_ORDER_U = (
    0,
    1,
    FIELD_P - 1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
)
SMALL_ORDER_ENCODINGS = frozenset(u.to_bytes(32, "little") for u in _SMALL_ORDER_U)


def clamp_scalar(k: bytes) -> bytes:
    """RFC 7748 clamping: ``2^254 + 8 * (k mod 2^251)`` as 32 little-endian bytes."""
    if len(k) != SCALAR_BYTES:
        raise InvalidParameter("a scalar is 32 bytes")
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return bytes(b)


def new_scalar(rng: Callable[[int], bytes] = os.urandom) -> bytes:
    """A fresh clamped X25519 scalar drawn from ``rng``."""
    raw = rng(SCALAR_BYTES)
    if not isinstance(raw, bytes) or len(raw) != SCALAR_BYTES:
        raise InvalidParameter("rng(n) must return exactly n bytes")
    return clamp_scalar(raw)


def hash_to_edwards(msgs: Iterable[bytes], dst: bytes) -> list[bytes]:
    """Edwards encodings of ``from_uniform(h[:32]) + from_uniform(h[32:])``, ``h = xmd(msg, dst, 64)``."""
    return edwards_sum_of_maps(map(xmd64_function(dst), msgs))


def edwards_to_montgomery(encodings: Sequence[bytes]) -> list[bytes]:
    """Montgomery u (32 bytes, canonical) of each Edwards encoding, with one batched field inversion."""
    p = FIELD_P
    mask = _MASK255
    frm = int.from_bytes
    ys = [frm(e, "little") & mask for e in encodings]
    n = len(ys)
    if n == 0:
        return []
    dens = [(1 - y) % p for y in ys]
    if 0 in dens:
        # Only the identity has y == 1; an item hashing to it is a 2^-252 event, never seen in practice.
        raise InvalidParameter("an item hashes to the identity element")
    # Montgomery's trick: prefix products, one inversion, then walk back.
    prefix = [0] * n
    acc = 1
    for i, d in enumerate(dens):
        acc = acc * d % p
        prefix[i] = acc
    inv = pow(acc, p - 2, p)
    out = [b""] * n
    for i in range(n - 1, 0, -1):
        inv_i = inv * prefix[i - 1] % p
        inv = inv * dens[i] % p
        out[i] = ((1 + ys[i]) * inv_i % p).to_bytes(32, "little")
    out[0] = ((1 + ys[0]) * inv % p).to_bytes(32, "little")
    return out


def hash_to_group(msgs: Iterable[bytes], dst: bytes) -> list[bytes]:
    """Montgomery u coordinates (32 bytes) of the suite's hash of each message, under ``dst``."""
    return edwards_to_montgomery(hash_to_edwards(msgs, dst))


def blind(scalar: bytes, elements: Iterable[bytes]) -> list[bytes]:
    """``X25519(scalar, u)`` for each element.

    Small-order inputs make X25519 fail (all-zero output); that is reported as
    :class:`InvalidGroupElement`, although callers are expected to have run :func:`validate_peer_elements`.
    """
    return x25519_many(_scalar(scalar), _elements(elements))


_PIPELINE_CHUNK = 8192


def hash_to_group_and_blind(scalar: bytes, dst: bytes, msgs: Sequence[bytes]) -> list[bytes]:
    """``X25519(scalar, hash_to_group(msg))`` for each message.

    Works through ``msgs`` in chunks of 8192 so that the intermediate lists (Edwards encodings, field
    elements) stay small whatever the batch size; one field inversion per chunk.
    """
    out: list[bytes] = []
    step = _PIPELINE_CHUNK
    for i in range(0, len(msgs), step):
        out += blind(scalar, hash_to_group(msgs[i : i + step], dst))
    return out


def blind_and_hash(scalar: bytes, key: bytes, elements: Sequence[bytes]) -> list[bytes]:
    """``BLAKE2b-128(X25519(scalar, u), key=key)`` for each element: 16-byte comparison hashes."""
    b2 = hashlib.blake2b
    size = COMPARE_HASH_BYTES
    if not 0 < len(key) <= 64:
        raise InvalidParameter("the comparison key must be 1 to 64 bytes")

    def post(x: bytes) -> bytes:
        return b2(x, digest_size=size, key=key).digest()

    return x25519_many_then(_scalar(scalar), _elements(elements), post)


def _scalar(scalar: bytes) -> bytes:
    if not isinstance(scalar, bytes) or len(scalar) != SCALAR_BYTES:
        raise InvalidParameter("a scalar is 32 bytes")
    return scalar


def _elements(elements: Iterable[bytes]) -> Sequence[bytes]:
    seq = elements if isinstance(elements, list | tuple) else list(elements)
    for e in seq:
        if not isinstance(e, bytes) or len(e) != ELEMENT_BYTES:
            raise InvalidGroupElement(f"an element is not {ELEMENT_BYTES} bytes")
    return seq


def validate_peer_elements(elements: Sequence[bytes], what: str) -> None:
    """Reject what an honest peer never sends: wrong lengths, non-canonical u, small order, duplicates.

    ``what`` names the list in error messages (never the values).
    """
    for e in elements:
        if len(e) != ELEMENT_BYTES:
            raise InvalidGroupElement(f"{what}: an element is not {ELEMENT_BYTES} bytes")
    if not elements:
        return
    joined = b"".join(elements)
    _check_canonical(joined, what)
    if not SMALL_ORDER_ENCODINGS.isdisjoint(elements):
        raise InvalidGroupElement(f"{what}: an element has small order")
    if len(set(elements)) != len(elements):
        raise InvalidGroupElement(f"{what}: duplicated elements")


def _check_canonical(joined: bytes, what: str) -> None:
    arr = np.frombuffer(joined, dtype=np.uint8).reshape(-1, ELEMENT_BYTES)
    top = arr[:, 31]
    if bool((top & 0x80).any()):
        raise InvalidGroupElement(f"{what}: an element has its top bit set (non-canonical encoding)")
    # u >= p  <=>  u in [2^255 - 19, 2^255): bytes 1..30 all 0xff, byte 31 0x7f, byte 0 >= 0xed.
    cand = (top == 0x7F) & (arr[:, 0] >= 0xED) & (arr[:, 1:31] == 0xFF).all(axis=1)
    if bool(cand.any()):
        raise InvalidGroupElement(f"{what}: an element is not reduced modulo p (non-canonical encoding)")
