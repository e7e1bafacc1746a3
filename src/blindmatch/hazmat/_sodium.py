"""Batch loop over libsodium's hash-to-group maps with the least Python work per element.

(X25519 goes through OpenSSL instead: ``_x25519.py``.)

PyNaCl's public wrappers (``nacl.bindings``) allocate a buffer, check types and format an error string on
every call: about 10% of the cost of hash-to-group plus blinding. These loops call the same libsodium
functions through PyNaCl's cffi module with one reusable output buffer. Every input length is checked
here before it reaches C. When PyNaCl's internal module is not importable, the public wrappers are used;
both paths give identical bytes (tested).
"""

from __future__ import annotations

from collections.abc import Iterable

import nacl.bindings as _nb

from ..errors import InvalidParameter

__all__ = ["FAST", "edwards_sum_of_maps"]


try:  # pragma: no branch
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    FAST = True
except ImportError:  # pragma: no cover
    FAST = False


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
