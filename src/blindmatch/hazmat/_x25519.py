"""Batch X25519 through OpenSSL (``cryptography``), the faster of the two libraries we have.

Measured on the development machine, per call from Python: OpenSSL 30.8-32.7 us (public-key object
included), libsodium through PyNaCl's cffi module 33.6-35.2 us (``docs/protocol.md``). Both clamp the
scalar and mask the top bit of u as RFC 7748 says, and give identical bytes (tested against libsodium and
the RFC 7748 vectors). OpenSSL refuses an all-zero shared secret (a small-order input) with ``ValueError``:
that becomes :class:`InvalidGroupElement`, as libsodium's non-zero return does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

try:  # pragma: no branch
    # The public classmethod re-checks backend support on every call (about 1.3 us, 4% of an X25519):
    # call the binding it forwards to. Same object, same checks on the bytes; the public API otherwise.
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    _public_from_bytes: Callable[[bytes], X25519PublicKey] = _rust_openssl.x25519.from_public_bytes
except (ImportError, AttributeError):  # pragma: no cover
    _public_from_bytes = X25519PublicKey.from_public_bytes

from ..errors import InvalidParameter
from ._errors import InvalidGroupElement

__all__ = ["x25519_many", "x25519_many_then"]

_SMALL = "a peer element has small order (X25519 gave the all-zero output)"


def x25519_many(scalar: bytes, points: Sequence[bytes]) -> list[bytes]:
    """``X25519(scalar, u)`` for each ``u``; raises :class:`InvalidGroupElement` on an all-zero output."""
    return x25519_many_then(scalar, points, None)


def x25519_many_then(
    scalar: bytes, points: Sequence[bytes], post: Callable[[bytes], bytes] | None
) -> list[bytes]:
    """``post(X25519(scalar, u))`` for each ``u`` (``post`` None: the X25519 output itself)."""
    if len(scalar) != 32:
        raise InvalidParameter("scalar must be 32 bytes")
    for u in points:
        if len(u) != 32:
            raise InvalidParameter("a point must be 32 bytes")
    exchange = X25519PrivateKey.from_private_bytes(scalar).exchange
    public = _public_from_bytes
    try:
        if post is None:
            return [exchange(public(u)) for u in points]
        return [post(exchange(public(u))) for u in points]
    except ValueError:
        raise InvalidGroupElement(_SMALL) from None
