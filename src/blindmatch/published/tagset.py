"""A compressed set of fixed-length tags, for publishing OPRF outputs that queriers look their tags up in.

A publisher holds ``n`` distinct tags of ``t`` bits (32 <= t <= 128), uniformly random (truncated OPRF
outputs), and publishes them sorted and Golomb-Rice coded: about ``t - log2(n) + 1.5`` bits per tag
instead of ``t``. :func:`encode_tags` writes the file, :meth:`TagSet.from_bytes` reads and validates it,
:meth:`TagSet.find` looks tags up (rank or ``None``), :func:`bits_for` picks ``t``.

False matches: a query tag that is not in the set matches one of the ``n`` published tags with
probability at most ``n / 2^t``. Over the file's whole life, with ``Q`` query tags looked up in it (all
queriers together), the expected number of false matches is at most ``n * Q / 2^t``;
``bits_for(n, Q, s)`` makes it at most ``2^-s``.

A tag is ``nb = ceil(t / 8)`` bytes, the big-endian spelling of an integer below ``2^t`` (the unused top
bits of its first byte are zero), so byte order is integer order.

Byte format, version 1 (integers big-endian; bit streams most significant bit first)::

    offset  size                 field
    0       1                    format byte: 0x01
    1       1                    t, the tag length in bits: 32..128
    2       4                    n, the number of tags (unsigned)
    6       1                    k, the Rice parameter: 0..t (0 when n = 0)
    7       ceil(n * b / 8)      high remainder bits: b = k % 8 bits per tag, then zero padding bits
    ...     n * a                low remainder bytes: a = k // 8 bytes per tag
    ...     the rest             quotients in unary: per tag, q zero bits then a one bit; then zero
                                 padding bits (the last byte holds the n-th one bit)

The coded values are the gaps ``g_0 = v_0`` and ``g_i = v_i - v_(i-1)`` (at least 1) of the sorted tags
``v_0 < v_1 < ... < v_(n-1)``. Gap ``g`` is split as ``q = g >> k`` and ``r = g mod 2^k``; the low
``8a`` bits of ``r`` are its ``a`` remainder bytes and its top ``b`` bits its high remainder bits. Keeping
the fixed-width parts apart from the unary part lets numpy code and decode every stream at once.

The encoder picks the ``k`` giving the smallest file; for that ``k`` the quotients add up to at most
``2n`` (else ``k + 1`` would be smaller), so the unary part is at most ``ceil(3n / 8)`` bytes and a reader
refuses a longer one. A reader also refuses a count above its ``max_count``, any size that does not add
up, nonzero padding bits, a gap of zero after the first tag, a tag of ``2^t`` or more, ``k > t``, and
``k != 0`` for an empty set. Decoding holds about 112 bytes per declared tag at its peak, so
``max_count`` bounds the memory a file can make a reader use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..errors import InvalidParameter, MalformedFile

__all__ = ["FORMAT_VERSION", "HEADER_SIZE", "MAX_BITS", "MIN_BITS", "TagSet", "bits_for", "encode_tags"]

FORMAT_VERSION = 1
HEADER_SIZE = 7
MIN_BITS = 32
MAX_BITS = 128
#: Tags are handled as 24-byte (192-bit) big-endian rows: 16 for the widest tag, 8 more so that a gap's
#: quotient and high remainder bits (one uint64) always have room above its remainder bytes.
_WIDE = 24
_MAX_COUNT = (1 << 32) - 1

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]


def _nbytes(bits: int) -> int:
    return (bits + 7) // 8


def _check_bits(bits: object) -> int:
    if not isinstance(bits, int) or isinstance(bits, bool) or not MIN_BITS <= bits <= MAX_BITS:
        raise InvalidParameter(f"bits must be an integer from {MIN_BITS} to {MAX_BITS}")
    return bits


def _top_mask(bits: int) -> int:
    """The bits of a tag's first byte that must be zero."""
    used = bits - 8 * (_nbytes(bits) - 1)
    return 0xFF & ~((1 << used) - 1)


def bits_for(n: int, evaluations: int, security_bits: int = 40) -> int:
    """The tag length ``t`` for ``n`` published tags and ``evaluations`` query tags over the file's life.

    ``t = ceil(security_bits + log2(n * evaluations))``, at least 32. The expected number of false matches
    over the file's whole life is at most ``n * evaluations / 2^t <= 2^-security_bits``. Raises
    :class:`InvalidParameter` when ``t`` would exceed 128 or an argument is not a positive integer.
    """
    for name, value in (("n", n), ("evaluations", evaluations), ("security_bits", security_bits)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidParameter(f"{name} must be a positive integer")
    t = security_bits + (n * evaluations - 1).bit_length()  # ceil(log2(x)) for integer x >= 1
    if t > MAX_BITS:
        raise InvalidParameter(f"{t}-bit tags needed, more than {MAX_BITS}: fewer tags or evaluations")
    return max(MIN_BITS, t)


# ----------------------------------------------------------------------------------------------------
# Encoding


def _tag_matrix(tags: Sequence[bytes], nb: int) -> U8:
    """The tags as an ``n x nb`` uint8 matrix; every tag must be ``nb`` bytes."""
    if isinstance(tags, bytes | bytearray | str):
        raise InvalidParameter("tags must be a sequence of byte strings, not one string")
    try:
        items = list(tags)
        lengths = set(map(len, items))
        joined = b"".join(items)
    except TypeError:
        raise InvalidParameter("tags must be a sequence of byte strings") from None
    if lengths - {nb}:
        raise InvalidParameter(f"every tag must be {nb} bytes")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(items), nb)


def _halves(mat: U8) -> tuple[U64, U64]:
    """Each tag (at most 16 bytes) as two uint64 arrays: its high and its low 64 bits."""
    n, nb = mat.shape
    padded = np.zeros((n, 16), dtype=np.uint8)
    padded[:, 16 - nb :] = mat
    words = padded.view(">u8").astype(np.uint64)
    return np.ascontiguousarray(words[:, 0]), np.ascontiguousarray(words[:, 1])


def _gaps(mat: U8) -> U8:
    """Gaps ``v_0, v_1 - v_0, ...`` as ``_WIDE``-byte rows; InvalidParameter unless strictly increasing."""
    hi, lo = _halves(mat)
    gap_hi, gap_lo = hi.copy(), lo.copy()
    gap_lo[1:] -= lo[:-1]  # wraps modulo 2^64, as the borrow below expects
    borrow = lo[1:] < lo[:-1]
    gap_hi[1:] -= hi[:-1]
    gap_hi[1:] -= borrow
    descending = (hi[1:] < hi[:-1]) | ((hi[1:] == hi[:-1]) & borrow)
    if descending.any() or ((gap_hi[1:] == 0) & (gap_lo[1:] == 0)).any():
        raise InvalidParameter("tags must be distinct and sorted in ascending order")
    gaps = np.zeros((mat.shape[0], _WIDE), dtype=np.uint8)
    gaps[:, 8:16] = gap_hi.astype(">u8").view(np.uint8).reshape(-1, 8)
    gaps[:, 16:] = gap_lo.astype(">u8").view(np.uint8).reshape(-1, 8)
    return gaps


def _upper(gaps: U8, k: int) -> U64 | None:
    """``g >> 8a`` (``a = k // 8``) of every gap as uint64, or None when one does not fit 64 bits."""
    a = k // 8
    if gaps[:, : 16 - a].any():
        return None
    return np.ascontiguousarray(gaps[:, 16 - a : _WIDE - a]).view(">u8").ravel().astype(np.uint64)


def _cost(gaps: U8, k: int) -> float:
    """Bits the gaps take with Rice parameter ``k`` (inf when the quotients would add up to over 2n)."""
    n = gaps.shape[0]
    upper = _upper(gaps, k)
    if upper is None:
        return math.inf
    q = upper >> np.uint64(k % 8)
    if float(q.sum(dtype=np.float64)) > 2 * n:
        return math.inf
    return float(n * (k + 1) + int(q.sum()))


def _choose_k(gaps: U8, bits: int, last: int) -> int:
    """The ``k`` minimising the size (the cost is convex in ``k``: walk downhill from a guess)."""
    memo: dict[int, float] = {}

    def cost(j: int) -> float:
        if j not in memo:
            memo[j] = _cost(gaps, j)
        return memo[j]

    k = min(bits, max(0, (last // int(gaps.shape[0])).bit_length() - 1))
    while math.isinf(cost(k)) and k < bits:
        k += 1
    start = k
    while k < bits and cost(k + 1) < cost(k):
        k += 1
    while k == start and k > 0 and cost(k - 1) < cost(k):
        k, start = k - 1, k - 1
    return k


def _pack_low_bits(values: U64, b: int) -> bytes:
    """The low ``b`` (< 8) bits of each value, concatenated, zero-padded to whole bytes."""
    if b == 0:
        return b""
    rows = np.unpackbits((values & np.uint64((1 << b) - 1)).astype(np.uint8)[:, None], axis=1)
    return np.packbits(rows[:, 8 - b :].ravel()).tobytes()


def _pack_unary(q: U64) -> bytes:
    """Each quotient as that many zero bits then a one bit, zero-padded to whole bytes."""
    ends = np.cumsum(q.astype(np.int64) + 1) - 1
    stream = np.zeros(int(ends[-1]) + 1 if ends.size else 0, dtype=np.uint8)
    stream[ends] = 1
    return np.packbits(stream).tobytes()


def _header(bits: int, n: int, k: int) -> bytes:
    return bytes([FORMAT_VERSION, bits]) + n.to_bytes(4, "big") + bytes([k])


def encode_tags(tags: Sequence[bytes], bits: int) -> bytes:
    """Encode distinct ``bits``-bit tags, given sorted ascending, in the format of this module's docstring.

    Each tag is ``ceil(bits / 8)`` bytes, big-endian, with the unused top bits zero. Raises
    :class:`InvalidParameter` for a tag of the wrong length or type or with a top bit set, for tags
    not strictly ascending, and for more than ``2^32 - 1`` tags.
    """
    bits = _check_bits(bits)
    nb = _nbytes(bits)
    mat = _tag_matrix(tags, nb)
    n = mat.shape[0]
    if n > _MAX_COUNT:
        raise InvalidParameter(f"at most {_MAX_COUNT} tags")
    if n == 0:
        return _header(bits, 0, 0)
    if (mat[:, 0] & _top_mask(bits)).any():
        raise InvalidParameter(f"a tag has bits set above bit {bits}")
    gaps = _gaps(mat)
    k = _choose_k(gaps, bits, int.from_bytes(mat[-1].tobytes(), "big"))
    a, b = divmod(k, 8)
    upper = _upper(gaps, k)
    if upper is None:  # never: _choose_k returns a k of finite cost
        raise RuntimeError("internal error: the chosen Rice parameter does not fit")
    remainder_bytes = np.ascontiguousarray(gaps[:, _WIDE - a :]).tobytes()
    return b"".join(
        (_header(bits, n, k), _pack_low_bits(upper, b), remainder_bytes, _pack_unary(upper >> np.uint64(b)))
    )


# ----------------------------------------------------------------------------------------------------
# Decoding


def _parse_header(data: bytes, max_count: int) -> tuple[int, int, int]:
    """``(bits, n, k)`` from the header, checked against ``max_count`` and the data length."""
    if len(data) < HEADER_SIZE:
        raise MalformedFile(f"tag set truncated: {len(data)} bytes, the header alone is {HEADER_SIZE}")
    if data[0] != FORMAT_VERSION:
        raise MalformedFile(f"unknown tag set format byte {data[0]} (this version reads {FORMAT_VERSION})")
    bits, n, k = data[1], int.from_bytes(data[2:6], "big"), data[6]
    if not MIN_BITS <= bits <= MAX_BITS:
        raise MalformedFile(f"tag length {bits} bits is outside {MIN_BITS}..{MAX_BITS}")
    if n > max_count:
        raise MalformedFile(f"tag set declares {n} tags, more than the limit of {max_count}")
    if k > bits or (n == 0 and k != 0):
        raise MalformedFile(f"Rice parameter {k} is invalid for {n} tags of {bits} bits")
    a, b = divmod(k, 8)
    unary = len(data) - HEADER_SIZE - (n * b + 7) // 8 - n * a
    if unary < (n + 7) // 8:
        raise MalformedFile(f"tag set truncated: {len(data)} bytes is too short for {n} tags")
    if unary > (3 * n + 7) // 8:
        raise MalformedFile("tag set has trailing bytes or an over-long quotient stream")
    return bits, n, k


def _unpack_low_bits(stream: bytes, n: int, b: int) -> U64:
    """Inverse of :func:`_pack_low_bits`; the padding bits must be zero."""
    if b == 0:
        return np.zeros(n, dtype=np.uint64)
    flat = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
    if flat[n * b :].any():
        raise MalformedFile("nonzero padding bits after the remainder bits")
    rows = np.zeros((n, 8), dtype=np.uint8)
    rows[:, 8 - b :] = flat[: n * b].reshape(n, b)
    return np.packbits(rows, axis=1).ravel().astype(np.uint64)


def _unpack_unary(stream: bytes, n: int) -> U64:
    """Inverse of :func:`_pack_unary`: exactly ``n`` one bits, the last of them in the last byte."""
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    ends = np.flatnonzero(np.unpackbits(np.frombuffer(stream, dtype=np.uint8)))
    if ends.size != n:
        raise MalformedFile(f"quotient stream holds {ends.size} values, the header declares {n}")
    if ends[-1] < 8 * (len(stream) - 1):
        raise MalformedFile("tag set has trailing bytes after the quotient stream")
    return (np.diff(ends, prepend=-1) - 1).astype(np.uint64)


def _assemble_gaps(upper: U64, remainder_bytes: bytes, n: int, a: int) -> U8:
    """Gaps as ``_WIDE``-byte rows: ``upper`` (``g >> 8a``) above the ``a`` remainder bytes."""
    gaps = np.zeros((n, _WIDE), dtype=np.uint8)
    if a:
        gaps[:, _WIDE - a :] = np.frombuffer(remainder_bytes, dtype=np.uint8).reshape(n, a)
    gaps[:, 16 - a : _WIDE - a] = upper.astype(">u8").view(np.uint8).reshape(n, 8)
    if not gaps[1:].any(axis=1).all():
        raise MalformedFile("tags are not strictly increasing (a gap of zero)")
    return gaps


def _prefix_sums(gaps: U8) -> U8:
    """Running totals of the gaps (the tags), as ``_WIDE``-byte rows.

    Sums each 32-bit limb on its own (n < 2^32 keeps a limb's total in uint64), then carries.
    """
    n = gaps.shape[0]
    limbs = np.ascontiguousarray(gaps.view(">u4").reshape(n, _WIDE // 4).T).astype(np.uint64)
    np.cumsum(limbs, axis=1, out=limbs)
    carry = np.zeros(n, dtype=np.uint64)
    for row in limbs[::-1]:  # least significant limb first
        row += carry
        carry = row >> np.uint64(32)
        row &= np.uint64(0xFFFFFFFF)
    if carry.any():
        raise MalformedFile(f"a tag exceeds {MAX_BITS} bits")
    out = np.empty((n, _WIDE // 4), dtype=">u4")
    for col, row in enumerate(limbs):
        out[:, col] = row
    return out.view(np.uint8).reshape(n, _WIDE)


def _narrow(values: U8, bits: int) -> U8:
    """The low ``ceil(bits / 8)`` bytes of each row; every value must be below ``2^bits``."""
    nb = _nbytes(bits)
    if values.shape[0] and (values[-1, : _WIDE - nb].any() or values[-1, _WIDE - nb] & _top_mask(bits)):
        raise MalformedFile(f"a tag is {bits} bits or longer")  # the last tag is the largest
    return np.ascontiguousarray(values[:, _WIDE - nb :])


def _decode(data: bytes, max_count: int) -> tuple[int, U8]:
    bits, n, k = _parse_header(data, max_count)
    a, b = divmod(k, 8)
    low_end = HEADER_SIZE + (n * b + 7) // 8
    bytes_end = low_end + n * a
    high = _unpack_low_bits(data[HEADER_SIZE:low_end], n, b)
    q = _unpack_unary(data[bytes_end:], n)
    upper = (q << np.uint64(b)) | high
    del q, high
    return bits, _narrow(_prefix_sums(_assemble_gaps(upper, data[low_end:bytes_end], n, a)), bits)


class TagSet:
    """A decoded, validated tag set: ``count`` tags of ``bits`` bits, sorted, for :meth:`find`.

    Make one with :meth:`from_bytes` (the format is in this module's docstring).
    """

    def __init__(self, bits: int, sorted_tags: U8) -> None:
        """Internal: ``sorted_tags`` is an ``n x ceil(bits/8)`` uint8 matrix, already validated."""
        self._bits = bits
        self._nb = _nbytes(bits)
        self._arr = sorted_tags.view(f"S{self._nb}").ravel()

    @classmethod
    def from_bytes(cls, data: bytes, *, max_count: int) -> TagSet:
        """Parse and validate a tag set file of at most ``max_count`` tags.

        Whatever ``data`` holds, the only exception is :class:`MalformedFile` (and
        :class:`InvalidParameter` for a ``max_count`` or ``data`` of the wrong type); sizes are checked
        against ``max_count`` and the data length before anything is allocated.
        """
        if not isinstance(max_count, int) or isinstance(max_count, bool) or max_count < 0:
            raise InvalidParameter("max_count must be a non-negative integer")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidParameter("data must be bytes")
        bits, tags = _decode(bytes(data), max_count)
        return cls(bits, tags)

    @property
    def count(self) -> int:
        """The number of tags."""
        return int(self._arr.shape[0])

    @property
    def bits(self) -> int:
        """The tag length in bits (each tag is ``ceil(bits / 8)`` bytes)."""
        return self._bits

    def __len__(self) -> int:
        return self.count

    def find(self, tags: Sequence[bytes]) -> list[int | None]:
        """For each query tag, its rank (0-based position in sorted order) if present, else None.

        Every query must be a ``ceil(bits / 8)``-byte string (else :class:`InvalidParameter`).
        """
        mat = _tag_matrix(tags, self._nb)
        if mat.shape[0] == 0:
            return []
        queries = np.ascontiguousarray(mat).view(f"S{self._nb}").ravel()
        if self.count == 0:
            return [None] * queries.shape[0]
        pos = np.searchsorted(self._arr, queries)
        hit = self._arr[np.minimum(pos, self.count - 1)] == queries
        return [p if h else None for p, h in zip(pos.tolist(), hit.tolist(), strict=True)]

    def tags(self) -> list[bytes]:
        """Every tag, in ascending order (for tests and re-encoding)."""
        raw = self._arr.view(np.uint8).tobytes()
        return [raw[i : i + self._nb] for i in range(0, len(raw), self._nb)]
