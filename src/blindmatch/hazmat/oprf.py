"""Suite ``blindmatch-oprf-v1/edwards25519-ell2ro-sha512``: a (verifiable) OPRF on edwards25519.

The construction and its security argument are in ``docs/published-sets.md``; in short:

* ``H(x)``: the PSI suite's hash to the prime-order subgroup, as an Edwards point
  (:func:`~blindmatch.hazmat.group.hash_to_edwards`) under :data:`DST_HASH`;
* a key is a scalar ``k`` (below the order ``L``); ``K = k*G`` is its public key. Keys come from
  :func:`derive_kind_key`: ``c = clamp(HKDF(epoch secret, kind))`` and ``k = c mod L``, so the publisher
  can also evaluate its own items with X25519 (``u(k*P) == X25519(c, u(P))`` on the subgroup), twice as fast
  as the Edwards ladder;
* ``F_k(x) = k*H(x)``; its output is :func:`finalize`: ``SHA-512(DST_FINALIZE || len(x) || x || u)`` with
  ``u`` the Montgomery u coordinate of ``F_k(x)``;
* the querier blinds with ``r_i`` uniform mod L (one per element), the publisher multiplies by ``k``, the
  querier by ``r_i^-1``; ``crypto_scalarmult_ed25519_noclamp`` refuses small-order and off-subgroup
  points on both sides;
* the batched DLEQ proof (RFC 9497 section 2.2 in shape, with our own hashing): ``seed`` hashes ``K``, the
  context, and every input and output; ``d_i = HashToScalar(seed || i)``; ``M = sum d_i*C_i``,
  ``Z = k*M``; a Schnorr proof that ``log_G K == log_M Z``; the challenge hashes ``K, M, Z, t2, t3`` and
  ``seed``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .._derive import derive_bytes, derive_key
from ..errors import InvalidParameter
from ._ed25519 import ORDER, add_points, base_mul, mul_each, mul_many, reduce64, scalar_bytes
from ._errors import InvalidGroupElement
from .group import clamp_scalar, edwards_to_montgomery, hash_to_edwards, hash_to_group_and_blind
from .xmd import expand_message_xmd_sha512

__all__ = [
    "DST_HASH",
    "PROOF_BYTES",
    "SUITE_ID",
    "InvalidProof",
    "KindKey",
    "blind",
    "derive_kind_key",
    "evaluate",
    "finalize",
    "finalize_many",
    "prove",
    "publisher_outputs",
    "unblind",
    "verify",
]

SUITE_ID = b"blindmatch-oprf-v1/edwards25519-ell2ro-sha512"
DST_HASH = SUITE_ID + b" HashToGroup"
DST_FINALIZE = SUITE_ID + b" Finalize"
_DST_KEY = b"oprf epoch kind key"
_DST_SEED = SUITE_ID + b" Seed"
_DST_COMPOSITE = SUITE_ID + b" Composite"
_DST_CHALLENGE = SUITE_ID + b" Challenge"
_DST_NONCE = SUITE_ID + b" ProofNonce"
_LABEL_BLINDS = b"oprf blinds"
_LABEL_NONCE = b"oprf proof nonce"
PROOF_BYTES = 64
_U32 = struct.Struct(">I")


class InvalidProof(InvalidGroupElement):
    """The publisher's proof does not show that its answers used the key in its signed file."""


@dataclass(frozen=True, repr=False)
class KindKey:
    """One kind's OPRF key: ``clamped`` (the X25519 form), ``scalar`` (``clamped mod L``) and ``public``
    (``scalar*G``, 32-byte Edwards encoding). The repr shows the public key only."""

    clamped: bytes
    scalar: bytes
    public: bytes

    def __repr__(self) -> str:
        return f"KindKey(public={self.public.hex()})"


def derive_kind_key(epoch_secret: bytes, kind: str) -> KindKey:
    """The key of ``kind`` within an epoch: ``clamp(HKDF(epoch_secret, "oprf epoch kind key", kind))``."""
    if not isinstance(kind, str) or not kind.isascii() or not 0 < len(kind) <= 64:
        raise InvalidParameter("a kind is 1 to 64 ASCII characters")
    clamped = clamp_scalar(derive_key(epoch_secret, _DST_KEY, 0, kind.encode("ascii")))
    scalar = scalar_bytes(int.from_bytes(clamped, "little"))
    return KindKey(clamped, scalar, base_mul(scalar))


def _hash_to_scalar(msg: bytes, dst: bytes) -> int:
    return reduce64(expand_message_xmd_sha512(msg, dst, 64))


def blind(items: Sequence[bytes], seed: bytes, index: int = 0) -> tuple[list[bytes], list[int]]:
    """``(r_i * H(x_i), r_i)`` for each item; ``r_i`` uniform mod L from ``seed`` (label "oprf blinds",
    ``index`` to blind several batches under one seed)."""
    n = len(items)
    wide = derive_bytes(seed, _LABEL_BLINDS, 64 * n, index)
    rs = [reduce64(wide[64 * i : 64 * i + 64]) for i in range(n)]
    if 0 in rs:  # probability n * 2^-252
        raise InvalidParameter("a zero blind: draw another seed")
    points = hash_to_edwards(items, DST_HASH)
    return mul_each([scalar_bytes(r) for r in rs], points, "our items"), rs


def evaluate(key: KindKey, blinded: Sequence[bytes]) -> list[bytes]:
    """``k * B`` for each blinded element; invalid or duplicated elements raise InvalidGroupElement."""
    if len(set(blinded)) != len(blinded):
        raise InvalidGroupElement("blinded elements: duplicated elements")
    return mul_many(key.scalar, blinded, "blinded elements")


def _invert_all(rs: Sequence[int]) -> list[int]:
    """Every ``r^-1 mod L`` with one modular exponentiation (Montgomery's trick)."""
    n = len(rs)
    if n == 0:
        return []
    prefix = [0] * n
    acc = 1
    for i, r in enumerate(rs):
        acc = acc * r % ORDER
        prefix[i] = acc
    inv = pow(acc, ORDER - 2, ORDER)
    out = [0] * n
    for i in range(n - 1, 0, -1):
        out[i] = inv * prefix[i - 1] % ORDER
        inv = inv * rs[i] % ORDER
    out[0] = inv
    return out


def unblind(evaluated: Sequence[bytes], rs: Sequence[int]) -> list[bytes]:
    """``r_i^-1 * E_i``: the Edwards encodings of ``F_k(x_i)``; invalid elements raise InvalidGroupElement."""
    if len(evaluated) != len(rs):
        raise InvalidGroupElement(f"expected {len(rs)} evaluated elements, got {len(evaluated)}")
    return mul_each([scalar_bytes(v) for v in _invert_all(rs)], evaluated, "evaluated elements")


def finalize(item: bytes, u: bytes) -> bytes:
    """The 64-byte OPRF output of ``item`` from the Montgomery u (32 bytes) of ``F_k(item)``."""
    return hashlib.sha512(DST_FINALIZE + _U32.pack(len(item)) + item + u).digest()


def finalize_many(items: Sequence[bytes], edwards: Sequence[bytes]) -> list[bytes]:
    """:func:`finalize` for the querier's unblinded points (one batched conversion to Montgomery u)."""
    return [finalize(x, u) for x, u in zip(items, edwards_to_montgomery(edwards), strict=True)]


def publisher_outputs(key: KindKey, items: Sequence[bytes]) -> list[bytes]:
    """The publisher's own OPRF outputs, ``finalize(y, u(k*H(y)))``, through X25519 (no blinding)."""
    us = hash_to_group_and_blind(key.clamped, DST_HASH, items)
    return [finalize(y, u) for y, u in zip(items, us, strict=True)]


def _seed(public: bytes, context: bytes, inputs: Sequence[bytes], outputs: Sequence[bytes]) -> bytes:
    if len(inputs) != len(outputs) or not inputs:
        raise InvalidParameter("a proof covers one or more (input, output) pairs")
    h = hashlib.sha512(_DST_SEED + bytes([len(_DST_SEED)]))
    h.update(public + _U32.pack(len(context)) + context + _U32.pack(len(inputs)))
    h.update(b"".join(inputs))
    h.update(b"".join(outputs))
    return h.digest()


def _composite_scalars(seed: bytes, n: int) -> list[bytes]:
    return [scalar_bytes(_hash_to_scalar(seed + _U32.pack(i), _DST_COMPOSITE) or 1) for i in range(n)]


def _challenge(public: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes, seed: bytes) -> int:
    return _hash_to_scalar(public + m + z + t2 + t3 + seed, _DST_CHALLENGE)


def prove(
    key: KindKey,
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    context: bytes,
    seed: bytes,
    index: int = 0,
) -> bytes:
    """The 64-byte proof ``c || s`` that ``outputs[i] == k * inputs[i]`` for every i under ``key.public``.

    ``context`` binds the proof to one use (the session's transcript hash and the file id). The nonce comes
    from ``seed`` (label "oprf proof nonce", ``index``) and the statement, so a repeated seed never reuses
    a nonce for two statements.
    """
    s_seed = _seed(key.public, context, inputs, outputs)
    ds = _composite_scalars(s_seed, len(inputs))
    m = add_points(mul_each(ds, inputs, "blinded elements"))
    z = mul_many(key.scalar, [m], "composite")[0]
    t = _hash_to_scalar(derive_key(seed, _LABEL_NONCE, index, s_seed[:32]) + key.scalar, _DST_NONCE)
    if t == 0:  # pragma: no cover - probability 2^-252
        raise InvalidParameter("a zero proof nonce")
    t2 = base_mul(scalar_bytes(t))
    t3 = mul_many(scalar_bytes(t), [m], "composite")[0]
    c = _challenge(key.public, m, z, t2, t3, s_seed)
    s = (t - c * int.from_bytes(key.scalar, "little")) % ORDER
    return scalar_bytes(c) + scalar_bytes(s)


def verify(
    public: bytes, inputs: Sequence[bytes], outputs: Sequence[bytes], context: bytes, proof: bytes
) -> None:
    """Check a :func:`prove` proof; :class:`InvalidProof` if it fails (or is malformed)."""
    if not isinstance(proof, bytes) or len(proof) != PROOF_BYTES:
        raise InvalidProof(f"a proof is {PROOF_BYTES} bytes")
    c, s = int.from_bytes(proof[:32], "little"), int.from_bytes(proof[32:], "little")
    if not (0 < c < ORDER and 0 < s < ORDER):
        raise InvalidProof("the proof's scalars are not reduced (or zero)")
    s_seed = _seed(public, context, inputs, outputs)
    ds = _composite_scalars(s_seed, len(inputs))
    try:
        m = add_points(mul_each(ds, inputs, "blinded elements"))
        z = add_points(mul_each(ds, outputs, "evaluated elements"))
        cb, sb = scalar_bytes(c), scalar_bytes(s)
        t2 = add_points([base_mul(sb), mul_many(cb, [public], "public key")[0]])
        t3 = add_points([mul_many(sb, [m], "composite")[0], mul_many(cb, [z], "composite")[0]])
    except InvalidGroupElement as exc:
        raise InvalidProof(f"the proof does not verify ({exc})") from None
    expected = scalar_bytes(_challenge(public, m, z, t2, t3, s_seed))
    if not hmac.compare_digest(expected, proof[:32]):
        raise InvalidProof("the proof does not verify: the answers were not computed with the file's key")
