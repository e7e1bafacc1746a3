"""Batch loops over libsodium with the least Python work per element.

PyNaCl's public wrappers (``nacl.bindings``) allocate a buffer, check types and format an error string on
every call: about 10% of the cost of hash-to-group plus blinding. These loops call the same libsodium
functions through PyNaCl's cffi module with one reusable output buffer. Every input length is checked
here before it reaches C. When PyNaCl's internal module is not importable, the public wrappers are used;
both paths give identical bytes (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import nacl.bindings as _nb

from ..errors import InvalidParameter
from ._errors import InvalidGroupElement

__all__ = ["FAST", "edwards_sum_of_maps", "x25519_many", "x25519_many_then"]

_SMALL = "a peer element has small order (X25519 gave the all-zero output)"

try:  # pragma: no branch
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    FAST = True
except ImportError:  # pragma: no cover
    FAST = False


def _check_len(items: Sequence[bytes], n: int, what: str) -> None:
    for x in items:
        if len(x) != n:
            raise InvalidParameter(f"{what} must be {n} bytes")


def edwards_sum_of_maps(hashes: Iterable[bytes]) -> list[bytes]:
    """``from_uniform(h[:32]) + from_uniform(h[32:])`` (Edwards encodings) for 64-byte ``h``."""
    if not FAST:  # pragma: no cover
        fu, add = _nb.crypto_core_ed25519_from_uniform, _nb.crypto_core_ed25519_add
        return [add(fu(h[:32]), fu(h[32:])) for h in hashes]
    fu, add = _lib.crypto_core_ed25519_from_uniform, _lib.crypto_core_ed25519_add
    p = _ffi.new("unsigned char[32]")
    q = _ffi.new("unsigned char[32]")
    r = _ffi.new("unsigned char[32]")
    rb = _ffi.buffer(r, 32)
    out: list[bytes] = []
    app = out.append
    for h in hashes:
        if len(h) != 64:
            raise InvalidParameter("uniform input must be 64 bytes")
        fu(p, h[:32])
        fu(q, h[32:])
        if add(r, p, q):  # pragma: no cover -- from_uniform outputs are always valid points
            raise InvalidParameter("invalid point")
        app(rb[:])
    return out


def x25519_many(scalar: bytes, points: Sequence[bytes]) -> list[bytes]:
    """``X25519(scalar, u)`` for each ``u``; raises :class:`InvalidGroupElement` on an all-zero output."""
    return x25519_many_then(scalar, points, None)


def x25519_many_then(
    scalar: bytes, points: Sequence[bytes], post: Callable[[bytes], bytes] | None
) -> list[bytes]:
    """``post(X25519(scalar, u))`` for each ``u`` (``post`` None: the X25519 output itself)."""
    if len(scalar) != 32:
        raise InvalidParameter("scalar must be 32 bytes")
    _check_len(points, 32, "a point")
    if not FAST:  # pragma: no cover
        mult = _nb.crypto_scalarmult
        try:
            res = [mult(scalar, u) for u in points]
        except Exception as exc:
            raise InvalidGroupElement(_SMALL) from exc
        return res if post is None else [post(x) for x in res]
    mult = _lib.crypto_scalarmult
    r = _ffi.new("unsigned char[32]")
    rb = _ffi.buffer(r, 32)
    out: list[bytes] = []
    app = out.append
    if post is None:
        for u in points:
            if mult(r, scalar, u):
                raise InvalidGroupElement(_SMALL)
            app(rb[:])
    else:
        for u in points:
            if mult(r, scalar, u):
                raise InvalidGroupElement(_SMALL)
            app(post(rb[:]))
    return out
