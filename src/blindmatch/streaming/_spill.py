"""The on-disk side of a streaming party: a private temp folder, sorted runs, a chunked k-way merge and a
partitioned join on comparison hashes. Nothing here knows the protocol; ``docs/streaming.md`` lists the
files and what they hold.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import FileAccessError, InvalidParameter
from ._errors import SkewedHashes, UnexpectedChunk

__all__ = [
    "HASH_DTYPE",
    "HASH_ROW",
    "MAX_RUNS",
    "ROW",
    "Partitions",
    "SpillDir",
    "merge_runs",
    "partition_count",
    "read_blocks",
    "rechunk",
    "sort_rows",
]

#: an own blinded value (32 bytes, compared as bytes) and its input index
ROW = np.dtype([("v", "S32"), ("i", "<u8")])
HASH_DTYPE = np.dtype("S16")
#: a comparison hash the peer sent and its wire position
HASH_ROW = np.dtype([("h", "S16"), ("p", "<u8")])
MAX_RUNS = 256
_MIN_BLOCK = 256
_MAX_PARTITIONS = 1 << 16

Array = npt.NDArray[Any]


class SpillDir:
    """A fresh folder ``bm-stream-*`` (mode 0700) under ``parent``; files in it are created 0600."""

    def __init__(self, parent: str | os.PathLike[str]) -> None:
        try:
            self.path = Path(tempfile.mkdtemp(prefix="bm-stream-", dir=os.fspath(parent)))
        except OSError as exc:
            raise FileAccessError(f"cannot create a folder for spill files: {exc.strerror}") from None
        self._n = 0

    def new_path(self, stem: str) -> Path:
        """A new empty file (0600), named ``stem-<n>``."""
        self._n += 1
        path = self.path / f"{stem}-{self._n}"
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return path

    def write_new(self, stem: str, data: Array) -> Path:
        path = self.new_path(stem)
        with open(path, "ab") as f:
            f.write(data.tobytes())
        return path

    def cleanup(self) -> None:
        """Delete the folder and everything in it (best effort: no secure erase)."""
        shutil.rmtree(self.path, ignore_errors=True)


def read_blocks(path: Path, dtype: np.dtype[Any], rows: int) -> Generator[Array, None, None]:
    """The rows of ``path`` in blocks of at most ``rows``."""
    with open(path, "rb") as f:
        while True:
            block = np.fromfile(f, dtype=dtype, count=rows)
            if len(block) == 0:
                return
            yield block


def sort_rows(rows: Array) -> Array:
    """``rows`` sorted by value (by field ``v`` for :data:`ROW`), stably."""
    keys = rows["v"] if rows.dtype.names else rows
    return rows[np.argsort(keys, kind="stable")]


def _keys(rows: Array) -> Array:
    return rows["v"] if rows.dtype.names else rows


def merge_runs(
    spill: SpillDir, runs: list[Path], budget_rows: int, dtype: np.dtype[Any] = ROW
) -> Iterator[Array]:
    """Blocks of the rows of the sorted ``runs`` (of ``dtype``: :data:`ROW`, by value, or plain hashes),
    in nondecreasing order.

    Each round takes from every buffer the rows up to the smallest last value among the runs that still
    have rows on disk, so every row emitted is no larger than any row not yet emitted. More than
    :data:`MAX_RUNS` runs are first merged in groups (one extra pass). The runs are deleted once merged.
    """
    while len(runs) > MAX_RUNS:
        merged: list[Path] = []
        for g in range(0, len(runs), MAX_RUNS):
            out = spill.new_path("run")
            with open(out, "ab") as f:
                for block in merge_runs(spill, runs[g : g + MAX_RUNS], budget_rows, dtype):
                    f.write(block.tobytes())
            merged.append(out)
        runs = merged
    per = max(_MIN_BLOCK, budget_rows // max(1, len(runs)))
    readers = [read_blocks(p, dtype, per) for p in runs]
    bufs = [next(r, np.empty(0, dtype)) for r in readers]
    more = [len(b) == per for b in bufs]
    while any(len(b) for b in bufs):
        limits = [_keys(bufs[j])[-1] for j in range(len(bufs)) if more[j]]
        parts = []
        for j, buf in enumerate(bufs):
            take = int(np.searchsorted(_keys(buf), min(limits), side="right")) if limits else len(buf)
            if take:
                parts.append(buf[:take])
                bufs[j] = buf[take:]
            if len(bufs[j]) == 0 and more[j]:
                bufs[j] = next(readers[j], np.empty(0, dtype))
                more[j] = len(bufs[j]) == per
        yield sort_rows(np.concatenate(parts))
    for r in readers:
        r.close()
    for p in runs:
        p.unlink()


def rechunk(blocks: Iterable[Array], frame_items: int) -> Iterator[bytes]:
    """The elements of ``blocks`` as bodies of exactly ``frame_items`` elements (the last may be
    shorter); one empty body if there are none."""
    rest: Array | None = None
    sent = False
    for block in blocks:
        joined = block if rest is None else np.concatenate([rest, block])
        cut = len(joined) - len(joined) % frame_items
        for off in range(0, cut, frame_items):
            sent = True
            yield joined[off : off + frame_items].tobytes()
        rest = joined[cut:]
    if (rest is not None and len(rest)) or not sent:
        yield b"" if rest is None else rest.tobytes()


def partition_count(total_rows: int, chunk_items: int) -> int:
    """The smallest power of two ``P`` with ``total_rows / P <= chunk_items`` (at most 65536)."""
    p = 1
    while p * chunk_items < total_rows and p < _MAX_PARTITIONS:
        p *= 2
    return p


class Partitions:
    """``P`` files of rows keyed by a 16-byte hash; a row goes to the file its first two bytes name."""

    def __init__(self, spill: SpillDir, stem: str, count: int, dtype: np.dtype[Any]) -> None:
        if count < 1 or count > _MAX_PARTITIONS or count & (count - 1):
            raise InvalidParameter("the partition count is a power of two up to 65536")
        self._paths = [spill.new_path(stem) for _ in range(count)]
        self._shift = 16 - (count.bit_length() - 1)
        self._dtype = dtype
        self.rows = 0

    def _ids(self, hashes: Array) -> Array:
        raw = np.frombuffer(hashes.tobytes(), dtype=np.uint8).reshape(-1, 16)
        return ((raw[:, 0].astype(np.uint32) << 8 | raw[:, 1]) >> self._shift).astype(np.int64)

    def add(self, rows: Array) -> None:
        if len(rows) == 0:
            return
        hashes = rows["h"] if rows.dtype.names else rows
        ids = self._ids(hashes)
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        bounds = np.searchsorted(ids, np.arange(len(self._paths) + 1))
        for pid in np.flatnonzero(bounds[1:] > bounds[:-1]):
            with open(self._paths[pid], "ab") as f:
                f.write(rows[bounds[pid] : bounds[pid + 1]].tobytes())
        self.rows += len(rows)

    def load(self, pid: int) -> Array:
        return np.fromfile(self._paths[pid], dtype=self._dtype)

    def __len__(self) -> int:
        return len(self._paths)

    def drop(self, pid: int) -> None:
        self._paths[pid].unlink(missing_ok=True)


def join(peer: Partitions, own: Partitions) -> Array:
    """Sorted wire positions of the ``peer`` rows (:data:`HASH_ROW`) whose hash is among ``own``'s hashes.

    Per partition: the peer's hashes must be distinct (equal hashes share a partition) and no partition
    may hold more than ``4 * mean + 64`` of them (pseudorandom hashes never do).
    """
    if len(peer) != len(own):
        raise InvalidParameter("both sides of a join need the same partitions")
    limit = 4 * peer.rows // len(peer) + 64
    found: list[Array] = []
    for pid in range(len(peer)):
        theirs = peer.load(pid)
        if len(theirs) > limit:
            raise SkewedHashes("the peer's comparison hashes crowd one partition")
        if len(np.unique(theirs["h"])) != len(theirs):
            raise UnexpectedChunk("the peer's comparison hashes repeat")
        mine = own.load(pid)
        found.append(theirs["p"][np.isin(theirs["h"], mine)])
        peer.drop(pid)
        own.drop(pid)
    return np.sort(np.concatenate(found)) if found else np.empty(0, np.uint64)
