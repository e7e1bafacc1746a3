"""Driving two streaming parties in one process, and mapping result indices back to items."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidParameter, LocalProtocolError
from ..executors import Executor
from ..session.identity import Identity
from ._base import (
    DEFAULT_CHUNK_ITEMS,
    DEFAULT_FRAME_ITEMS,
    DEFAULT_MAX_PEER_ITEMS,
    StreamMode,
    StreamParty,
    StreamResult,
)
from ._otstream import DEFAULT_BUCKET_ITEMS, OtStreamInitiator, OtStreamResponder
from ._otstream import exchange_chunks as ot_exchange_chunks
from ._party import StreamInitiator, StreamResponder
from ._party import exchange_chunks as dh_exchange_chunks

__all__ = ["ENGINES", "exchange", "run_streaming_in_memory", "select_items"]


class Engine:
    """One streaming engine: its two parties and the number of chunks of a whole exchange."""

    def __init__(self, initiator: Any, responder: Any, chunks: Any) -> None:
        self.initiator, self.responder = initiator, responder
        #: ``chunks(mode, n_i, n_r, items per frame or bucket)``: chunks both ways, pulls aside
        self.chunks = chunks


#: The streaming engines by name: ``"dh"`` (chunks of ``frame_items``), ``"ot"`` (buckets).
ENGINES: dict[str, Engine] = {
    "dh": Engine(StreamInitiator, StreamResponder, dh_exchange_chunks),
    "ot": Engine(OtStreamInitiator, OtStreamResponder, ot_exchange_chunks),
}


def exchange(initiator: StreamParty, responder: StreamParty) -> tuple[StreamResult, StreamResult]:
    """Pass chunks between two parties in this process until both are done (both prepare first)."""
    initiator.prepare()
    responder.prepare()
    while not (initiator.done and responder.done):
        moved = False
        for src, dst in ((initiator, responder), (responder, initiator)):
            while (chunk := src.next_chunk()) is not None:
                dst.receive_chunk(chunk)
                moved = True
        if not moved:
            initiator.end_of_stream()
            responder.end_of_stream()
            raise LocalProtocolError("the exchange stalled")
    return initiator.result, responder.result


def run_streaming_in_memory(
    a_items: Iterable[bytes],
    b_items: Iterable[bytes],
    mode: StreamMode = "intersection",
    *,
    session_key: bytes,
    session_id: bytes,
    initiator_identity: Identity,
    responder_identity: Identity,
    workdir: str | os.PathLike[str],
    seeds: tuple[bytes, bytes] | None = None,
    padded_sizes: tuple[int | None, int | None] = (None, None),
    max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
    chunk_items: int = DEFAULT_CHUNK_ITEMS,
    frame_items: int = DEFAULT_FRAME_ITEMS,
    executor: Executor | None = None,
    engine: str = "dh",
    bucket_items: int = DEFAULT_BUCKET_ITEMS,
) -> tuple[StreamResult, StreamResult]:
    """One streaming exchange with both parties in this process (spill files under ``workdir``).
    ``engine``: ``"dh"`` (``frame_items`` chunks) or ``"ot"`` (the OT engine in buckets of ``bucket_items``,
    modes ``intersection`` and ``mutual``)."""
    sa, sb = seeds if seeds is not None else (None, None)
    common: dict[str, Any] = dict(
        mode=mode, session_id=session_id, session_key=session_key, workdir=workdir,
        max_peer_items=max_peer_items, chunk_items=chunk_items, executor=executor,
    )  # fmt: skip
    if engine not in ENGINES:
        raise InvalidParameter("engine is 'dh' or 'ot'")
    if engine == "dh":
        common["frame_items"] = frame_items
    else:
        common["bucket_items"] = bucket_items
    init = ENGINES[engine].initiator(
        a_items, identity=initiator_identity, peer=responder_identity.public, seed=sa,
        padded_size=padded_sizes[0], **common,
    )  # fmt: skip
    try:
        resp = ENGINES[engine].responder(
            b_items, identity=responder_identity, peer=initiator_identity.public, seed=sb,
            padded_size=padded_sizes[1], **common,
        )  # fmt: skip
    except BaseException:
        init.close()
        raise
    with init, resp:
        return exchange(init, resp)


def select_items(items: Iterable[bytes], indices: npt.NDArray[Any] | Sequence[int] | None) -> Iterator[bytes]:
    """The items at the sorted input ``indices`` (a result's ``matched_indices``), read again from
    ``items`` (e.g. the same file), in input order."""
    if indices is None:
        raise InvalidParameter("this result names no items (the mode gives this party none)")
    wanted = np.asarray(indices, dtype=np.uint64)
    k = 0
    for i, item in enumerate(items):
        if k == len(wanted):
            return
        if i == int(wanted[k]):
            yield item
            k += 1
    if k != len(wanted):
        raise InvalidParameter("the items ended before the last index: not the input of this result")
