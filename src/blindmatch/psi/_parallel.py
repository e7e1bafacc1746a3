"""Chunked process-pool map for the group operations (results identical to the serial computation)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

__all__ = ["MIN_PARALLEL_ITEMS", "PROGRESS_CHUNK", "chunk_count", "map_chunked", "pool_map"]

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


def _run_job(job: tuple[int, Callable[..., R], tuple[Any, ...], Any]) -> tuple[int, R]:
    index, fn, fixed, chunk = job
    return index, fn(*fixed, chunk)


def chunk_count(n: int, workers: int) -> int:
    """Into how many contiguous chunks :func:`map_chunked` cuts ``n`` elements for ``workers`` processes
    (1: the work stays in the calling process)."""
    # daemonic processes (e.g. a multiprocessing worker) may not start children: stay serial there
    if workers <= 1 or n < MIN_PARALLEL_ITEMS or multiprocessing.current_process().daemon:
        return 1
    return min(workers * _CHUNKS_PER_WORKER, max(1, n // 512))


def pool_map(
    fn: Callable[..., R],
    fixed: tuple[Any, ...],
    chunks: Sequence[Any],
    workers: int,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """``[fn(*fixed, chunk) for chunk in chunks]`` in a pool of ``workers`` processes (in this process
    when there is one chunk, one worker, or this process is daemonic); ``on_done(i)`` is called in this
    thread as chunk ``i`` completes (in completion order)."""
    k = len(chunks)
    if workers <= 1 or k <= 1 or multiprocessing.current_process().daemon:
        out: list[R] = []
        for i, chunk in enumerate(chunks):
            out.append(fn(*fixed, chunk))
            if on_done is not None:
                on_done(i)
        return out
    with _context().Pool(min(workers, k)) as pool:
        if on_done is None:
            return pool.starmap(fn, [(*fixed, chunk) for chunk in chunks], chunksize=1)
        slots: list[Any] = [None] * k
        indexed = [(i, fn, fixed, chunk) for i, chunk in enumerate(chunks)]
        for i, part in pool.imap_unordered(_run_job, indexed, chunksize=1):
            slots[i] = part
            on_done(i)
        return slots


def split_with_progress(
    seq: Sequence[T], k: int, progress: Callable[[int, int], None] | None
) -> tuple[list[list[T]], Callable[[int], None] | None]:
    """``seq`` cut into ``k`` contiguous chunks, and the ``on_done(chunk index)`` callback that reports
    ``progress(done, total)`` as chunks complete (``(0, total)`` is reported at once; empty chunks
    report nothing)."""
    n = len(seq)
    bounds = [n * i // k for i in range(k + 1)]
    chunks = [list(seq[bounds[i] : bounds[i + 1]]) for i in range(k)]
    if progress is None:
        return chunks, None
    report = progress
    report(0, n)
    done = 0

    def on_done(i: int) -> None:
        nonlocal done
        done += bounds[i + 1] - bounds[i]
        if bounds[i + 1] > bounds[i]:
            report(done, n)

    return chunks, on_done


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
    k = chunk_count(n, workers)
    if k == 1:
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
    chunks, on_done = split_with_progress(seq, k, progress)
    out: list[R] = []
    for part in pool_map(fn, fixed, chunks, workers, on_done):
        out.extend(part)
    return out
