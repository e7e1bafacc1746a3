"""Buckets of the OT streaming engine, on disk (``docs/streaming.md``, "The OT engine in buckets").

Items are split by a keyed 64-bit hash: ``STAGES`` staging files by its top 8 bits while the input is
read, then bucket ``b`` of ``B`` (a power of two) is the items whose top ``log2 B`` bits are ``b``. Equal
items share a hash, so repeats are found within one staging file; the first occurrence in input order
keeps its index. Nothing here knows the protocol.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import CapacityError
from ._own import checked_items
from ._spill import SpillDir

__all__ = ["STAGE_BITS", "Bucket", "BucketStage", "bucket_cap", "bucket_count", "bucket_hashes"]

Array = npt.NDArray[Any]
STAGE_BITS = 8
STAGES = 1 << STAGE_BITS
FINE_BITS = 16
MAX_BUCKETS = 1 << FINE_BITS
#: per item in a staging file: bucket hash, input index, item length; the item bytes follow per segment
META = np.dtype([("h", "<u8"), ("i", "<u8"), ("n", "<u4")])
_SEGMENT = struct.Struct("<II")  # rows, blob bytes
#: the failure bound of the bucket caps: all buckets of one side together overflow with at most 2^-40
STAT_BITS = 40


def bucket_hashes(items: list[bytes], key: bytes) -> Array:
    """uint64: the first 8 bytes (big-endian) of ``BLAKE2b-64(x, key=key)`` for each item."""
    b2 = hashlib.blake2b
    joined = b"".join(b2(x, digest_size=8, key=key).digest() for x in items)
    out: Array = np.frombuffer(joined, dtype=">u8").astype(np.uint64)
    return out


def bucket_count(n_max: int, bucket_items: int) -> int:
    """The number of buckets ``B``: the smallest power of two with ``n_max / B <= bucket_items``."""
    b = 1
    while b < MAX_BUCKETS and n_max > b * bucket_items:
        b *= 2
    return b


def bucket_cap(n: int, buckets: int) -> int:
    """Items per bucket for a side of ``n`` (padded) items: ``n`` balls in ``buckets`` bins exceed it in any
    bin with probability at most ``2^-40`` (Chernoff, ``P[X >= (1+d) mu] <= exp(-d^2 mu / (2+d))``, with a
    union bound over the bins)."""
    if buckets == 1 or n == 0:
        return n
    mu = n / buckets
    ln = math.log(buckets) + STAT_BITS * math.log(2)
    delta = (ln + math.sqrt(ln * ln + 8 * mu * ln)) / (2 * mu)
    return min(n, math.ceil((1 + delta) * mu))


class Bucket:
    """One bucket's distinct items (first occurrence in input order) with their input indices."""

    def __init__(self, items: list[bytes], first: Array, repeats: dict[int, list[int]]) -> None:
        self.items = items
        self.first = first  # input index of items[j]
        self.repeats = repeats  # position j -> later input indices of the same item

    def indices(self, positions: Iterable[int]) -> list[int]:
        """Input indices (every repeat) of the items at ``positions``."""
        out: list[int] = []
        for j in positions:
            out.append(int(self.first[j]))
            out.extend(self.repeats.get(j, ()))
        return out


def _distinct(items: list[bytes], idx: Array) -> Bucket:
    seen: dict[bytes, int] = {}
    keep: list[int] = []
    repeats: dict[int, list[int]] = {}
    for k, x in enumerate(items):
        j = seen.setdefault(x, len(keep))
        if j == len(keep):
            keep.append(k)
        else:
            repeats.setdefault(j, []).append(int(idx[k]))
    return Bucket([items[k] for k in keep], idx[keep], repeats)


class BucketStage:
    """The own items, staged by bucket hash; :meth:`add` reads them, :meth:`bucket` gives one bucket."""

    def __init__(self, spill: SpillDir, key: bytes, chunk_items: int) -> None:
        self._spill = spill
        self._key = key
        self._chunk = chunk_items
        self._paths: dict[int, Path] = {}
        self.n_input = 0
        self.distinct = 0
        self._cached: tuple[int, list[bytes], Array, Array] | None = None
        self._fine: Array = np.zeros(1 << FINE_BITS, np.int64)  # distinct items per top-16-bit value

    def add(self, items: Iterable[bytes]) -> None:
        """Read the items in chunks (checking each), stage them and count the distinct ones."""
        it = iter(items)
        while chunk := checked_items(list(islice(it, self._chunk))):
            self._write(chunk, bucket_hashes(chunk, self._key))
            self.n_input += len(chunk)
        for s in sorted(self._paths):
            items_s, _, h_s = self._load(s)
            seen: dict[bytes, int] = {}
            for k, x in enumerate(items_s):
                seen.setdefault(x, k)
            first = np.fromiter(seen.values(), np.int64, len(seen))
            self.distinct += len(first)
            fine = (h_s[first] >> np.uint64(64 - FINE_BITS)).astype(np.int64)
            self._fine += np.bincount(fine, minlength=1 << FINE_BITS)
        self._cached = None

    def bucket_sizes(self, buckets: int) -> Array:
        """Distinct items per bucket, for ``buckets`` buckets (known before any bucket is exchanged)."""
        sizes: Array = self._fine.reshape(buckets, -1).sum(axis=1)
        return sizes

    def _write(self, chunk: list[bytes], hashes: Array) -> None:
        stage = (hashes >> np.uint64(64 - STAGE_BITS)).astype(np.int64)
        order = np.argsort(stage, kind="stable")
        bounds = np.searchsorted(stage[order], np.arange(STAGES + 1))
        for s in np.flatnonzero(np.diff(bounds)).tolist():
            rows = order[bounds[s] : bounds[s + 1]]
            meta = np.empty(len(rows), META)
            meta["h"] = hashes[rows]
            meta["i"] = rows.astype(np.uint64) + np.uint64(self.n_input)
            picked = [chunk[k] for k in rows.tolist()]
            meta["n"] = [len(x) for x in picked]
            blob = b"".join(picked)
            path = self._paths.get(s)
            if path is None:
                path = self._paths[s] = self._spill.new_path(f"stage{s:03d}")
            with open(path, "ab") as f:
                f.write(_SEGMENT.pack(len(rows), len(blob)) + meta.tobytes() + blob)

    def _load(self, s: int) -> tuple[list[bytes], Array, Array]:
        """Items, input indices and bucket hashes of staging file ``s``, in input order."""
        if self._cached is not None and self._cached[0] == s:
            return self._cached[1:]
        path = self._paths.get(s)
        if path is None:
            return [], np.empty(0, np.uint64), np.empty(0, np.uint64)
        metas: list[Array] = []
        items: list[bytes] = []
        for meta, blob in _segments(path.read_bytes()):
            metas.append(meta)
            ends = np.cumsum(meta["n"], dtype=np.int64).tolist()
            starts = [0, *ends[:-1]]
            items.extend(blob[a:b] for a, b in zip(starts, ends, strict=True))
        meta = np.concatenate(metas) if metas else np.empty(0, META)
        self._cached = (s, items, meta["i"].copy(), meta["h"].copy())
        return self._cached[1:]

    def bucket(self, b: int, buckets: int) -> Bucket:
        """Bucket ``b`` of ``buckets``: its distinct items and their input indices."""
        bits = buckets.bit_length() - 1
        if bits <= STAGE_BITS:
            span = STAGES // buckets
            items: list[bytes] = []
            idx: list[Array] = []
            for s in range(b * span, (b + 1) * span):
                items_s, idx_s, _ = self._load(s)
                items.extend(items_s)
                idx.append(idx_s)
            self._cached = None
            return _distinct(items, np.concatenate(idx) if idx else np.empty(0, np.uint64))
        items_s, idx_s, h_s = self._load(b >> (bits - STAGE_BITS))
        mine = np.flatnonzero((h_s >> np.uint64(64 - bits)) == np.uint64(b))
        return _distinct([items_s[k] for k in mine.tolist()], idx_s[mine])

    def check_padded(self, padded_size: int | None) -> int:
        """The padded size: ``padded_size`` or the distinct count; fewer than the distinct items raise."""
        if padded_size is None:
            return self.distinct
        if self.distinct > padded_size:
            raise CapacityError(f"{self.distinct} distinct items exceed the padded size {padded_size}")
        return padded_size


def _segments(data: bytes) -> Iterator[tuple[Array, bytes]]:
    pos = 0
    while pos < len(data):
        rows, blob_len = _SEGMENT.unpack_from(data, pos)
        pos += _SEGMENT.size
        meta = np.frombuffer(data, META, rows, pos)
        pos += rows * META.itemsize
        yield meta, data[pos : pos + blob_len]
        pos += blob_len
