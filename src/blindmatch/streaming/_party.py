"""The two streaming parties of the DH engine (``docs/streaming.md``)::

init = StreamInitiator(a_items, ...)          resp = StreamResponder(b_items, ...)
init.prepare()                                resp.prepare()          (optional, may run in parallel)
loop: chunk = party.next_chunk() -> send it;  when None: receive a chunk, peer.receive_chunk(chunk)
init.result, resp.result                      (after each verified the other's signature)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path

import numpy as np

from ..executors import Executor, map_elements
from ..hazmat.group import blind_and_hash
from ..session.identity import Identity, PublicIdentity
from ._base import (
    CONFIRM_MODES,
    COUNT_ONLY_MODES,
    DEFAULT_CHUNK_ITEMS,
    DEFAULT_FRAME_ITEMS,
    DEFAULT_MAX_PEER_ITEMS,
    T_CONFIRM,
    T_ELEMENTS,
    T_HASHES,
    T_REQUEST,
    T_SIGNATURE,
    StreamMode,
    StreamParams,
    StreamParty,
    compare_key,
    elements_of,
    party_seed,
)
from ._errors import UnexpectedChunk
from ._frames import DIR_I2R, DIR_R2I, Frame, chunk_count
from ._spill import (
    HASH_DTYPE,
    HASH_ROW,
    Array,
    Partitions,
    merge_runs,
    partition_count,
    read_blocks,
    rechunk,
    sort_rows,
)

__all__ = ["StreamInitiator", "StreamResponder"]


def _hash_rows(frame: Frame, frame_items: int) -> Array:
    rows = np.empty(frame.count, HASH_ROW)
    rows["h"] = np.frombuffer(frame.body, dtype=HASH_DTYPE)
    start = frame.index * frame_items
    rows["p"] = np.arange(start, start + frame.count, dtype=np.uint64)
    return rows


def _file_bodies(path: Path, frame_items: int) -> Iterator[bytes]:
    """The 16-byte hashes of ``path`` in chunk-sized bodies (one empty body for an empty list)."""
    return rechunk(read_blocks(path, HASH_DTYPE, frame_items), frame_items)


def exchange_chunks(mode: str, n_i: int, n_r: int, frame_items: int) -> int:
    """Chunks of a whole exchange, both ways, from the padded sizes: request, elements, hashes, the
    confirm in the mutual modes, two signatures."""
    lists = [n_i, n_r, n_i] + ([n_r] if mode in CONFIRM_MODES else [])
    return sum(chunk_count(n, frame_items) for n in lists) + 2


class _Role(StreamParty):
    def __init__(
        self,
        items: Iterable[bytes],
        *,
        mode: StreamMode,
        session_id: bytes,
        session_key: bytes,
        identity: Identity,
        peer: PublicIdentity,
        workdir: str | os.PathLike[str],
        padded_size: int | None = None,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        chunk_items: int = DEFAULT_CHUNK_ITEMS,
        frame_items: int = DEFAULT_FRAME_ITEMS,
        seed: bytes | None = None,
        rng: Callable[[int], bytes] | None = None,
        executor: Executor | None = None,
    ) -> None:
        params = StreamParams(
            mode, session_id, session_key, identity, peer, workdir, padded_size, max_peer_items,
            chunk_items, frame_items, executor,
        )  # fmt: skip
        super().__init__(items, params, party_seed(seed, rng))
        self._ck = compare_key(session_id)
        self._hash_runs: list[Path] = []

    def _peer_hashes(self, elements: list[bytes]) -> bytes:
        hashes: list[bytes] = map_elements(self._executor, blind_and_hash, (self._scalar, self._ck), elements)
        return b"".join(hashes)

    def _spill_hashes(self, path: Path, hashes: bytes) -> None:
        """Keep ``hashes`` to send later: appended in order, and in the count-only modes also as a sorted
        run (the list goes out sorted by value, which hides its order)."""
        with open(path, "ab") as f:
            f.write(hashes)
        if self._p.mode in COUNT_ONLY_MODES:
            self._hash_runs.append(
                self._spill.write_new("hashrun", sort_rows(np.frombuffer(hashes, HASH_DTYPE)))
            )

    def _hash_bodies(self, path: Path) -> Iterator[bytes]:
        f = self._p.frame_items
        if self._p.mode not in COUNT_ONLY_MODES:
            return _file_bodies(path, f)
        return rechunk(merge_runs(self._spill, self._hash_runs, self._p.chunk_items, HASH_DTYPE), f)

    def _partitions(self, peer_total: int) -> tuple[Partitions, Partitions]:
        count = partition_count(self._own.size + peer_total, self._p.chunk_items)
        return (
            Partitions(self._spill, "part-theirs", count, HASH_ROW),
            Partitions(self._spill, "part-mine", count, HASH_DTYPE),
        )


class StreamInitiator(_Role):
    """Sends the request; learns which of its items are shared (``intersection``, ``mutual``) or how many
    (``cardinality``, ``mutual-cardinality``)."""

    _role = "initiator"
    _direction = DIR_I2R
    _started = False

    def _role_code(self) -> int:
        return 1

    def _next_chunk(self) -> bytes | None:
        if not self._started:
            self._started = True
            self._prepare()
            bodies = self._own.bodies(self._p.frame_items)
            self._send(self._frames(T_REQUEST, bodies, self._own.size, 32), T_ELEMENTS)
        return super()._next_chunk()

    def _check_total(self, mtype: int, total: int) -> None:
        if mtype == T_ELEMENTS:
            self._check_peer_size(total)
            self._theirs, self._mine = self._partitions(total)
            self._confirm = self._spill.new_path("spill-confirm")
        elif mtype == T_HASHES and total != self._own.size:
            raise UnexpectedChunk("the response's hash list does not match the request's size")

    def _on_frame(self, frame: Frame) -> None:
        if frame.mtype == T_ELEMENTS:
            elements, self._last_element = elements_of(frame, self._last_element, "elements")
            hashes = self._peer_hashes(elements)
            self._mine.add(np.frombuffer(hashes, dtype=HASH_DTYPE))
            if self._p.mode in CONFIRM_MODES:
                self._spill_hashes(self._confirm, hashes)
            if frame.final:
                self._expect = T_HASHES
        elif frame.mtype == T_HASHES:
            self._theirs.add(_hash_rows(frame, self._p.frame_items))
            if frame.final:
                self._join(self._theirs, self._mine)
                confirm: Iterator[bytes] = iter(())
                if self._p.mode in CONFIRM_MODES:
                    confirm = self._frames(T_CONFIRM, self._hash_bodies(self._confirm), self._peer_size, 16)
                self._send(chain(confirm, self._signature_chunk()), T_SIGNATURE)
        else:
            self._verify_peer(frame.body)
            self._finish()


class StreamResponder(_Role):
    """Answers the request; learns its shared items in ``mutual``, their number in
    ``mutual-cardinality``, only ``n_a`` otherwise."""

    _role = "responder"
    _direction = DIR_R2I

    _first_expect = T_REQUEST

    def _role_code(self) -> int:
        return 2

    def _check_total(self, mtype: int, total: int) -> None:
        if mtype == T_REQUEST:
            self._check_peer_size(total)  # the cap, before any group work
            self._hashes = self._spill.new_path("spill-hashes")
        elif mtype == T_CONFIRM:
            if total != self._own.size:
                raise UnexpectedChunk("the confirm does not match the response's size")
            self._theirs, self._mine = self._partitions(self._peer_size)
            for block in read_blocks(self._hashes, HASH_DTYPE, self._p.chunk_items):
                self._mine.add(block)

    def _on_frame(self, frame: Frame) -> None:
        if frame.mtype == T_REQUEST:
            elements, self._last_element = elements_of(frame, self._last_element, "request")
            self._spill_hashes(self._hashes, self._peer_hashes(elements))
            if frame.final:
                self._prepare()
                own = self._frames(T_ELEMENTS, self._own.bodies(self._p.frame_items), self._own.size, 32)
                hashes = self._frames(T_HASHES, self._hash_bodies(self._hashes), self._peer_size, 16)
                self._send(chain(own, hashes), T_CONFIRM if self._p.mode in CONFIRM_MODES else T_SIGNATURE)
        elif frame.mtype == T_CONFIRM:
            self._theirs.add(_hash_rows(frame, self._p.frame_items))
            if frame.final:
                self._join(self._theirs, self._mine)
                self._expect = T_SIGNATURE
        else:
            self._verify_peer(frame.body)
            self._send(self._signature_chunk(), None)

    def _sent_all(self) -> None:
        if self._expect is None and self._signatures[1]:
            self._finish()
