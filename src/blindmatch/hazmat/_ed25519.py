"""Batch loops over libsodium's edwards25519 point and scalar operations (through PyNaCl's cffi module,
with one reusable output buffer, as in ``_sodium``; the public ``nacl.bindings`` wrappers otherwise).

Every point given to :func:`mul_many` / :func:`mul_each` goes through ``crypto_scalarmult_ed25519_noclamp``,
which refuses a non-canonical encoding, a point of small order, a point off the prime-order subgroup and
an identity result: each refusal raises :class:`InvalidGroupElement` (the index is never in the message).
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl.bindings as _nb
import nacl.exceptions

from ..errors import InvalidParameter
from ._errors import InvalidGroupElement
from ._sodium import FAST

__all__ = ["ORDER", "add_points", "base_mul", "mul_each", "mul_many", "reduce64", "scalar_bytes"]

#: The order of edwards25519's prime-order subgroup.
ORDER = 2**252 + 27742317777372353535851937790883648493
_POINT = 32

if FAST:  # pragma: no branch
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib


def scalar_bytes(k: int) -> bytes:
    """A scalar in ``[0, ORDER)`` as 32 little-endian bytes."""
    return (k % ORDER).to_bytes(32, "little")


def reduce64(b: bytes) -> int:
    """A 64-byte string reduced modulo the group order (the bias is below 2^-250)."""
    if len(b) != 64:
        raise InvalidParameter("a wide scalar is 64 bytes")
    return int.from_bytes(b, "little") % ORDER


def _check_points(points: Sequence[bytes], what: str) -> None:
    for p in points:
        if not isinstance(p, bytes) or len(p) != _POINT:
            raise InvalidGroupElement(f"{what}: an element is not {_POINT} bytes")


def mul_each(scalars: Sequence[bytes], points: Sequence[bytes], what: str) -> list[bytes]:
    """``scalars[i] * points[i]`` for each i (32-byte scalars below the order, not clamped)."""
    if len(scalars) != len(points):
        raise InvalidParameter("as many scalars as points")
    _check_points(points, what)
    bad = InvalidGroupElement(f"{what}: an element is not a valid point of the prime-order subgroup")
    if not FAST:  # pragma: no cover
        try:
            return [_nb.crypto_scalarmult_ed25519_noclamp(k, p) for k, p in zip(scalars, points, strict=True)]
        except nacl.exceptions.RuntimeError:
            raise bad from None
    fn = _lib.crypto_scalarmult_ed25519_noclamp
    out_buf = _ffi.new("unsigned char[32]")
    view = _ffi.buffer(out_buf, 32)
    out: list[bytes] = []
    app = out.append
    for k, p in zip(scalars, points, strict=True):
        if len(k) != 32:
            raise InvalidParameter("a scalar is 32 bytes")
        if fn(out_buf, k, p) != 0:
            raise bad
        app(view[:])
    return out


def mul_many(scalar: bytes, points: Sequence[bytes], what: str) -> list[bytes]:
    """``scalar * p`` for each point (one 32-byte scalar below the order, not clamped)."""
    return mul_each([scalar] * len(points), points, what)


def base_mul(scalar: bytes) -> bytes:
    """``scalar * G`` (not clamped); a zero scalar is refused."""
    try:
        return _nb.crypto_scalarmult_ed25519_base_noclamp(scalar)
    except nacl.exceptions.RuntimeError:
        raise InvalidParameter("a zero scalar has no point") from None


def add_points(points: Sequence[bytes]) -> bytes:
    """The sum of one or more points (callers pass valid points; an invalid one raises
    :class:`InvalidGroupElement`)."""
    if not points:
        raise InvalidParameter("nothing to add")
    if not FAST:  # pragma: no cover
        acc = points[0]
        for p in points[1:]:
            acc = _nb.crypto_core_ed25519_add(acc, p)
        return acc
    _check_points(points, "a sum")
    acc_buf = _ffi.new("unsigned char[32]")
    _ffi.memmove(acc_buf, points[0], 32)
    fn = _lib.crypto_core_ed25519_add
    for p in points[1:]:
        if fn(acc_buf, acc_buf, p) != 0:
            raise InvalidGroupElement("a sum: an element is not a valid point")
    return bytes(_ffi.buffer(acc_buf, 32))
