"""Chunked process-pool map for the group operations (results identical to the serial computation)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

__all__ = ["MIN_PARALLEL_ITEMS", "PROGRESS_CHUNK", "map_chunked"]

T = TypeVar("T")
R = TypeVar("R")

# Below this many elements a pool costs more than it saves.
MIN_PARALLEL_ITEMS = 2048
_CHUNKS_PER_WORKER = 4
# Serial work reports progress after each chunk of this many elements (the hazmat pipeline's chunk size).
PROGRESS_CHUNK = 8192


def _context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    # fork is cheapest (the workers inherit the imported modules) but unsafe once threads exist.
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_job(job: tuple[int, Callable[..., list[R]], tuple[Any, ...], list[T]]) -> tuple[int, list[R]]:
    index, fn, fixed, chunk = job
    return index, fn(*fixed, chunk)


def map_chunked(
    fn: Callable[..., list[R]],
    fixed: tuple[Any, ...],
    seq: Sequence[T],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``fn(*fixed, seq)`` computed over contiguous chunks of ``seq`` in ``workers`` processes.

    ``fn`` must be a module-level function, deterministic, and work element by element, so that the
    concatenated chunk results equal ``fn(*fixed, seq)``; all randomness stays in the caller.

    ``progress(done, total)``, if given, is called in this thread: ``(0, total)`` first, then after each
    chunk (serially, chunks of :data:`PROGRESS_CHUNK`; in a pool, as chunks complete), ending with
    ``done == total``. It does not change the result.
    """
    n = len(seq)
    # daemonic processes (e.g. a multiprocessing worker) may not start children: stay serial there
    if workers <= 1 or n < MIN_PARALLEL_ITEMS or multiprocessing.current_process().daemon:
        if progress is None:
            return fn(*fixed, seq)
        progress(0, n)
        if n <= PROGRESS_CHUNK:
            res = fn(*fixed, seq)
            if n:
                progress(n, n)
            return res
        acc: list[R] = []
        for i in range(0, n, PROGRESS_CHUNK):
            acc += fn(*fixed, seq[i : i + PROGRESS_CHUNK])
            progress(min(i + PROGRESS_CHUNK, n), n)
        return acc
    k = min(workers * _CHUNKS_PER_WORKER, max(1, n // 512))
    bounds = [n * i // k for i in range(k + 1)]
    with _context().Pool(min(workers, k)) as pool:
        if progress is None:
            jobs = [(*fixed, list(seq[bounds[i] : bounds[i + 1]])) for i in range(k)]
            parts = pool.starmap(fn, jobs, chunksize=1)
        else:
            progress(0, n)
            indexed = [(i, fn, fixed, list(seq[bounds[i] : bounds[i + 1]])) for i in range(k)]
            slots: list[list[R]] = [[] for _ in range(k)]
            done = 0
            for i, part in pool.imap_unordered(_run_job, indexed, chunksize=1):
                slots[i] = part
                done += bounds[i + 1] - bounds[i]
                progress(done, n)
            parts = slots
    out: list[R] = []
    for part in parts:
        out.extend(part)
    return out
