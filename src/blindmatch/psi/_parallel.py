"""Chunked process-pool map for the group operations (results identical to the serial computation)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

__all__ = ["MIN_PARALLEL_ITEMS", "map_chunked"]

T = TypeVar("T")
R = TypeVar("R")

# Below this many elements a pool costs more than it saves.
MIN_PARALLEL_ITEMS = 2048
_CHUNKS_PER_WORKER = 4


def _context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    # fork is cheapest (the workers inherit the imported modules) but unsafe once threads exist.
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def map_chunked(
    fn: Callable[..., list[R]], fixed: tuple[Any, ...], seq: Sequence[T], workers: int
) -> list[R]:
    """``fn(*fixed, seq)`` computed over contiguous chunks of ``seq`` in ``workers`` processes.

    ``fn`` must be a module-level function, deterministic, and work element by element, so that the
    concatenated chunk results equal ``fn(*fixed, seq)``; all randomness stays in the caller.
    """
    n = len(seq)
    # daemonic processes (e.g. a multiprocessing worker) may not start children: stay serial there
    if workers <= 1 or n < MIN_PARALLEL_ITEMS or multiprocessing.current_process().daemon:
        return fn(*fixed, seq)
    k = min(workers * _CHUNKS_PER_WORKER, max(1, n // 512))
    bounds = [n * i // k for i in range(k + 1)]
    jobs = [(*fixed, list(seq[bounds[i] : bounds[i + 1]])) for i in range(k)]
    with _context().Pool(min(workers, k)) as pool:
        parts = pool.starmap(fn, jobs, chunksize=1)
    out: list[R] = []
    for part in parts:
        out.extend(part)
    return out
