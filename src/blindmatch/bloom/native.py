"""The native Bloom filter file format (version 1), byte by byte in ``docs/bloom-format.md``.

::

    offset  size  field (all integers little-endian)
    0       8     magic  89 42 4D 42 4C 4F 4F 4D  ("\\x89BMBLOOM")
    8       2     format version = 1
    10      1     hash scheme id (1 token, 2 mmh3, 3 dcso-fnv1)
    11      1     flags: bit 0 = overfill allowed; other bits must be 0
    12      4     k
    16      8     m (bits)
    24      8     capacity
    32      8     fpr (IEEE 754 binary64)
    40      8     count (distinct items inserted)
    48      4     L = metadata length
    52      L     metadata (UTF-8 JSON object, see blindmatch.bloom.metadata)
    52+L    B     bits, B = 8 * ceil(m / 64), bit p = bit (p % 8) of byte (p // 8)
    52+L+B  32    SHA-256 of every byte before it

The whole file may be gzip-compressed (detected by the gzip magic on load).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
from bitarray import bitarray

from ..errors import InvalidParameter, MalformedFile
from ._container import check_max, decode, gzip_bytes, read_capped, wants_gzip
from .filter import MAX_BITS, MAX_K, BloomFilter
from .metadata import MAX_METADATA_BYTES, FilterMetadata
from .schemes import SCHEMES_BY_ID

__all__ = ["FORMAT_VERSION", "MAGIC", "dumps", "load", "loads", "save"]

MAGIC = b"\x89BMBLOOM"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHBBIQQdQI")
_DIGEST = 32
_FLAG_OVERFILL = 1


def dumps(bf: BloomFilter, *, compress: bool = False) -> bytes:
    """The native-format bytes of ``bf`` (gzip-compressed when ``compress``)."""
    meta = bf.metadata.to_json()
    if len(meta) > MAX_METADATA_BYTES:
        raise InvalidParameter(f"metadata block exceeds {MAX_METADATA_BYTES} bytes")
    scheme_id = {"token": 1, "mmh3": 2, "dcso-fnv1": 3}[bf.scheme]
    header = _HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        scheme_id,
        _FLAG_OVERFILL if bf.allow_overfill else 0,
        bf.k,
        bf.m,
        bf.capacity,
        bf.fpr,
        len(bf),
        len(meta),
    )
    body = header + meta + bf.bit_bytes()
    out = body + hashlib.sha256(body).digest()
    return gzip_bytes(out) if compress else out


def loads(data: bytes, *, max_bytes: int | None = None) -> BloomFilter:
    """Parse a native-format file. Anything malformed raises :class:`MalformedFile`.

    Every size in the header is checked against the bytes actually present before anything is
    allocated; a gzip file is decompressed only as far as its header says (and never past
    ``max_bytes``, default 1 GiB).
    """
    raw = decode(data, check_max(max_bytes), _HEADER.size, _expected_size, "native Bloom file")
    _, _, scheme_id, flags, k, m, capacity, fpr, count, mlen = _HEADER.unpack_from(raw)
    scheme = SCHEMES_BY_ID[scheme_id]
    nbytes = 8 * ((m + 63) // 64)
    expected = len(raw)
    body = memoryview(raw)[: expected - _DIGEST]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), raw[expected - _DIGEST :]):
        raise MalformedFile("native Bloom file checksum mismatch (corrupted)")
    meta = FilterMetadata.from_json(raw[_HEADER.size : _HEADER.size + mlen])
    start = _HEADER.size + mlen
    bits = np.frombuffer(raw, dtype=np.uint8, count=nbytes, offset=start).copy()
    check_counts(bits, m, k, count)
    return BloomFilter._from_parts(
        m,
        k,
        capacity=capacity,
        fpr=fpr,
        scheme=scheme.name,
        count=count,
        bits=bits,
        allow_overfill=bool(flags & _FLAG_OVERFILL),
        metadata=meta,
    )


def _expected_size(head: bytes) -> tuple[int, bool]:
    """Validate the fixed header; return the exact file size it implies."""
    magic, version, scheme_id, flags, k, m, capacity, fpr, count, mlen = _HEADER.unpack_from(head)
    if magic != MAGIC:
        hint = " (it looks like DCSO's dcso-v1: use DcsoFile)" if magic[:1] == b"\x01" else ""
        raise MalformedFile(f"not a blindmatch Bloom filter file (wrong magic){hint}")
    if version != FORMAT_VERSION:
        raise MalformedFile(f"unsupported native Bloom format version {version}")
    if scheme_id not in SCHEMES_BY_ID:
        raise MalformedFile(f"unknown hash scheme id {scheme_id}")
    if flags & ~_FLAG_OVERFILL:
        raise MalformedFile("reserved flag bits are set")
    if not 1 <= m <= MAX_BITS:
        raise MalformedFile(f"bit count m={m} out of range")
    if not 1 <= k <= min(MAX_K, m):
        raise MalformedFile(f"hash count k={k} out of range")
    if not 1 <= capacity < 2**63 or count >= 2**63:
        raise MalformedFile("capacity or count out of range")
    if not (math.isfinite(fpr) and 0.0 < fpr < 1.0):
        raise MalformedFile("fpr out of range")
    if mlen > MAX_METADATA_BYTES:
        raise MalformedFile("metadata block too large")
    return _HEADER.size + mlen + 8 * ((m + 63) // 64) + _DIGEST, True


def check_counts(bits: npt.NDArray[np.uint8], m: int, k: int, count: int) -> None:
    """Reject bit arrays that cannot come from ``count`` insertions.

    Bits at or beyond ``m`` must be clear; at most ``k`` bits per item can be set; no bits iff no items.
    """
    view = bitarray(buffer=bits, endian="little")
    if view.count(1, m, len(view)):
        raise MalformedFile("bits are set beyond m (padding must be zero)")
    pop = int(view.count(1, 0, m))
    if (pop == 0) != (count == 0):
        raise MalformedFile(f"item count {count} does not match the {pop} bits set")
    if pop > count * k:
        raise MalformedFile(f"{pop} bits set is more than {count} items can set with k={k}")


def save(bf: BloomFilter, path: str | os.PathLike[str], *, compress: bool | None = None) -> None:
    Path(path).write_bytes(dumps(bf, compress=wants_gzip(path, compress)))


def load(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> BloomFilter:
    limit = check_max(max_bytes)
    return loads(read_capped(path, limit), max_bytes=limit)
