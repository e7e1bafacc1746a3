"""expand_message_xmd with SHA-512 (RFC 9380, section 5.3.1)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..errors import InvalidParameter

__all__ = ["expand_message_xmd_sha512", "xmd64_function"]

_B_IN_BYTES = 64  # SHA-512 output size
_S_IN_BYTES = 128  # SHA-512 block size


def _dst_prime(dst: bytes) -> bytes:
    if not 0 < len(dst) <= 255:
        raise InvalidParameter("DST must be 1 to 255 bytes (RFC 9380 section 5.3.3 long DSTs are not used)")
    return dst + bytes([len(dst)])


def expand_message_xmd_sha512(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """``expand_message_xmd(msg, DST, len_in_bytes)`` with H = SHA-512."""
    ell = -(-len_in_bytes // _B_IN_BYTES)
    if not 0 < len_in_bytes <= 65535 or ell > 255:
        raise InvalidParameter("len_in_bytes out of range for expand_message_xmd")
    dst_prime = _dst_prime(dst)
    msg_prime = bytes(_S_IN_BYTES) + msg + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime
    b0 = hashlib.sha512(msg_prime).digest()
    out = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        prev = bytes(x ^ y for x, y in zip(b0, out[-1], strict=True))
        out.append(hashlib.sha512(prev + bytes([i]) + dst_prime).digest())
    return b"".join(out)[:len_in_bytes]


def xmd64_function(dst: bytes) -> Callable[[bytes], bytes]:
    """A fast ``msg -> expand_message_xmd_sha512(msg, dst, 64)`` for many messages.

    With 64 output bytes, ``ell == 1``: two SHA-512 calls, the first over a fixed 128-byte zero block whose
    compression state is computed once and copied.
    """
    dst_prime = _dst_prime(dst)
    head = hashlib.sha512(bytes(_S_IN_BYTES))
    tail0 = (64).to_bytes(2, "big") + b"\x00" + dst_prime
    tail1 = b"\x01" + dst_prime
    copy = head.copy
    sha512 = hashlib.sha512

    def one(msg: bytes) -> bytes:
        h = copy()
        h.update(msg)
        h.update(tail0)
        return sha512(h.digest() + tail1).digest()

    return one
