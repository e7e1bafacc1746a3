"""DCSO's ``dcso-v1`` Bloom filter files (DCSO/bloom in Go, DCSO/flor in Python, CIRCL hashlookup, poppy v1).

::

    offset  size  field (little-endian uint64 unless noted)
    0       8     flags: low byte = version, must be 1 (we write exactly 1)
    8       8     n, capacity
    16      8     p, false-positive probability (IEEE 754 binary64)
    24      8     k
    32      8     m (bits)
    40      8     N, items inserted
    48      8*M   M = ceil(m / 64) words of bits; bit p is bit (p % 64) of word (p // 64)
    48+8*M  ...   optional free-form data blob, to the end of the file

Often gzip-compressed as a whole. Positions: ``h = FNV-1-64(value) mod P`` with
``P = 18446744073709551557``, then ``k`` times ``h = (h * 18446744073709550147 mod 2^64) mod P`` and
position ``h mod m`` (the recurrence of DCSO/bloom and DCSO/flor). The hashing is unkeyed: anyone can
test a guess. To share keyed tokens with DCSO tooling, insert their hex digests as the values.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidParameter, MalformedFile
from ._container import check_max, decode, gzip_bytes, read_capped, wants_gzip
from .filter import MAX_BITS, MAX_K, BloomFilter
from .native import check_counts

__all__ = ["DcsoFile", "dcso_filter", "dcso_parameters"]

_HEADER = struct.Struct("<QQdQQQ")


def dcso_parameters(n: int, p: float) -> tuple[int, int]:
    """DCSO's sizing: ``m = |ceil(n ln p / ln^2 2)|``, ``k = ceil(ln 2 * m / n)``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidParameter("capacity must be a positive integer")
    if not isinstance(p, float | int) or not 0.0 < p < 1.0:
        raise InvalidParameter("fpr must be strictly between 0 and 1")
    m = int(abs(math.ceil(float(n) * math.log(float(p)) / (math.log(2.0) ** 2))))
    k = math.ceil(math.log(2) * float(m) / float(n))
    return m, k


def dcso_filter(n: int, p: float, *, allow_overfill: bool = False) -> BloomFilter:
    """An empty filter with DCSO's sizing and hashing, ready to write as ``dcso-v1``."""
    m, k = dcso_parameters(n, p)
    return BloomFilter(m, k, capacity=n, fpr=p, scheme="dcso-fnv1", allow_overfill=allow_overfill)


def _expected_size(head: bytes) -> tuple[int, bool]:
    """Validate the header; return the least file size it implies (a data blob may follow)."""
    flags, n, p, k, m, count = _HEADER.unpack_from(head)
    if flags & 0xFF != 1:
        raise MalformedFile("dcso-v1 file: version byte is not 1 (wrong format?)")
    if flags != 1:
        raise MalformedFile("dcso-v1 file: unknown flag bits are set")
    if not 1 <= m <= MAX_BITS:
        raise MalformedFile(f"dcso-v1 file: bit count m={m} out of range")
    if not 1 <= k <= min(MAX_K, m):
        raise MalformedFile(f"dcso-v1 file: hash count k={k} out of range")
    if not 1 <= n < 2**63 or count >= 2**63:
        raise MalformedFile("dcso-v1 file: capacity or count out of range")
    if not (math.isfinite(p) and 0.0 < p < 1.0):
        raise MalformedFile("dcso-v1 file: p out of range")
    return _HEADER.size + 8 * ((m + 63) // 64), False


@dataclass
class DcsoFile:
    """A ``dcso-v1`` file: the filter (hash scheme ``dcso-fnv1``) and the trailing data blob."""

    filter: BloomFilter
    data: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.filter, BloomFilter) or self.filter.scheme != "dcso-fnv1":
            raise InvalidParameter(
                "a dcso-v1 file holds a filter with the 'dcso-fnv1' hash scheme (see dcso_filter); "
                "other schemes would be checked wrongly by DCSO tools"
            )
        if not isinstance(self.data, bytes | bytearray):
            raise InvalidParameter("data must be bytes")

    def to_bytes(self, *, compress: bool = False) -> bytes:
        f = self.filter
        out = _HEADER.pack(1, f.capacity, f.fpr, f.k, f.m, len(f)) + f.bit_bytes() + bytes(self.data)
        return gzip_bytes(out) if compress else out

    @classmethod
    def from_bytes(cls, blob: bytes, *, max_bytes: int | None = None) -> DcsoFile:
        """Parse a ``dcso-v1`` file (gzip detected). Malformed input raises :class:`MalformedFile`."""
        raw = decode(blob, check_max(max_bytes), _HEADER.size, _expected_size, "dcso-v1 file")
        _, n, p, k, m, count = _HEADER.unpack_from(raw)
        nbytes = 8 * ((m + 63) // 64)
        bits = np.frombuffer(raw, dtype=np.uint8, count=nbytes, offset=_HEADER.size).copy()
        check_counts(bits, m, k, count)
        bf = BloomFilter._from_parts(
            m, k, capacity=n, fpr=p, scheme="dcso-fnv1", count=count, bits=bits, allow_overfill=False
        )
        return cls(bf, raw[_HEADER.size + nbytes :])

    def save(self, path: str | os.PathLike[str], *, compress: bool | None = None) -> None:
        """Write to ``path`` (gzip when ``compress``; default: when the path ends in ``.gz``)."""
        Path(path).write_bytes(self.to_bytes(compress=wants_gzip(path, compress)))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> DcsoFile:
        limit = check_max(max_bytes)
        return cls.from_bytes(read_capped(path, limit), max_bytes=limit)
