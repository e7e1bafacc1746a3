"""A party's own list, built on disk: blind the items chunk by chunk, sort runs, merge away repeats, pad
with dummies, and emit the padded list in ascending order of the blinded values (``docs/streaming.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from ..errors import CapacityError, InvalidParameter, LocalError
from ..executors import Executor, map_elements
from ..hazmat.group import SUITE_ID, hash_to_group_and_blind
from ..session.padding import DUMMY_PREFIX
from ._spill import ROW, SpillDir, merge_runs, read_blocks, rechunk, sort_rows

__all__ = ["OwnList", "checked_items", "dummy_items"]

Array = npt.NDArray[Any]
_U64 = np.dtype("<u8")
_PAIR = np.dtype([("first", "<u8"), ("other", "<u8")])
#: the hash to group of the PSI suite (``docs/protocol.md``): the same H(x) as the in-memory protocol
DST_HASH_TO_GROUP = SUITE_ID + b"/hash-to-group"


def dummy_items(key: bytes, start: int, count: int) -> list[bytes]:
    """Dummies ``start .. start+count-1``: ``DUMMY_PREFIX`` and bytes ``32j .. 32j+32`` of the ChaCha20
    keystream under ``key`` (zero nonce; block counter ``floor(j / 2)``)."""
    counter = (start // 2).to_bytes(4, "little") + bytes(12)
    skip = (start % 2) * 32
    stream = Cipher(algorithms.ChaCha20(key, counter), mode=None).encryptor().update(bytes(skip + 32 * count))
    return [DUMMY_PREFIX + stream[skip + 32 * j : skip + 32 * j + 32] for j in range(count)]


def checked_items(chunk: list[Any]) -> list[bytes]:
    """``chunk``, once every item is bytes and none starts with the dummy prefix."""
    for x in chunk:
        if not isinstance(x, bytes):
            raise InvalidParameter("streaming items must be bytes")
        if x.startswith(DUMMY_PREFIX):
            raise InvalidParameter("an item starts with the dummy prefix")
    return chunk


class OwnList:
    """The own list of one party; :meth:`build` does the group work, :meth:`bodies` emits it."""

    def __init__(
        self, spill: SpillDir, scalar: bytes, dummy_key: bytes, chunk_items: int, executor: Executor
    ) -> None:
        self._spill = spill
        self._executor = executor
        self._scalar = scalar
        self._dummy_key = dummy_key
        self._chunk = chunk_items
        self.n_input = 0  # items read (repeats included)
        self.distinct = 0
        self.size = 0  # the padded size: elements on the wire
        self._runs: list[Path] = []
        self._repeats: Path | None = None
        self._wiremap: Path | None = None

    def _run_of(self, items: list[bytes], first_index: int, stem: str) -> Path:
        blinded = map_elements(
            self._executor, hash_to_group_and_blind, (self._scalar, DST_HASH_TO_GROUP), items
        )
        rows = np.empty(len(items), ROW)
        rows["v"] = np.frombuffer(b"".join(blinded), dtype="S32")
        rows["i"] = np.arange(first_index, first_index + len(items), dtype=np.uint64)
        return self._spill.write_new(stem, sort_rows(rows))

    def build(self, items: Iterable[bytes], padded_size: int | None) -> None:
        """Blind and sort ``items`` into runs, remove repeats, pad to ``padded_size`` with dummies."""
        it = iter(items)
        while chunk := checked_items(list(islice(it, self._chunk))):
            self._runs.append(self._run_of(chunk, self.n_input, "run"))
            self.n_input += len(chunk)
        distinct = self._dedup()
        size = self.distinct if padded_size is None else padded_size
        if self.distinct > size:
            raise CapacityError(f"{self.distinct} distinct items exceed the padded size {size}")
        self.size = size
        self._runs = [distinct]
        for start in range(0, size - self.distinct, self._chunk):
            count = min(self._chunk, size - self.distinct - start)
            dummies = dummy_items(self._dummy_key, start, count)
            self._runs.append(self._run_of(dummies, self.n_input + start, "dummy"))

    def _dedup(self) -> Path:
        """Merge the runs into one file without repeats; (first index, repeated index) pairs go aside."""
        out = self._spill.new_path("distinct")
        self._repeats = self._spill.new_path("repeats")
        last, last_index = b"", 0
        with open(out, "ab") as f, open(self._repeats, "ab") as rep:
            for block in merge_runs(self._spill, self._runs, self._chunk):
                v = block["v"]
                new = np.empty(len(block), bool)
                new[0] = v[0] != last or self.distinct == 0
                new[1:] = v[1:] != v[:-1]
                f.write(block[new].tobytes())
                if not new.all():
                    pos = np.maximum.accumulate(np.where(new, np.arange(len(block)), -1))
                    primary = np.where(pos >= 0, block["i"][np.maximum(pos, 0)], last_index)
                    pairs = np.empty(int((~new).sum()), _PAIR)
                    pairs["first"], pairs["other"] = primary[~new], block["i"][~new]
                    rep.write(pairs.tobytes())
                self.distinct += int(new.sum())
                last = v[-1]
                last_index = int(block["i"][np.flatnonzero(new)[-1]]) if new.any() else last_index
        return out

    def bodies(self, frame_items: int) -> Iterator[bytes]:
        """The wire list in bodies of ``frame_items`` values (32 bytes each), ascending; writes the wire
        map (input index per position) as it goes. An empty list gives one empty body."""
        self._wiremap = self._spill.new_path("wiremap")
        return rechunk(self._emit(self._wiremap), frame_items)

    def _emit(self, wiremap: Path) -> Iterator[Array]:
        last = b""
        with open(wiremap, "ab") as wm:
            for block in merge_runs(self._spill, self._runs, self._chunk):
                v = block["v"]
                if bool((v[1:] == v[:-1]).any()) or (last and v[0] == last):
                    raise LocalError("a dummy equals an item's blinded value (probability 2^-250)")
                last = v[-1]
                wm.write(block["i"].astype(_U64).tobytes())
                yield v

    def indices(self, positions: Array) -> tuple[Array, int]:
        """Sorted input indices (every repeat, no dummy) of the sorted wire ``positions``, and how many
        distinct items they are."""
        if self._wiremap is None or self._repeats is None:
            raise LocalError("the own list was not emitted")
        found: list[Array] = []
        start = 0
        for block in read_blocks(self._wiremap, _U64, self._chunk):
            lo, hi = np.searchsorted(positions, [start, start + len(block)])
            found.append(block[positions[lo:hi].astype(np.int64) - start])
            start += len(block)
        primary = np.concatenate(found) if found else np.empty(0, _U64)
        primary = primary[primary < self.n_input]
        extra = [pairs["other"][np.isin(pairs["first"], primary)]
                 for pairs in read_blocks(self._repeats, _PAIR, self._chunk)]  # fmt: skip
        return np.sort(np.concatenate([primary, *extra])), len(primary)
