"""Dask executor: one mutual PSI exchange (bare parties, both in this process) on each executor.

Both parties use the same executor: one process (``workers=1``), ``ProcessExecutor(2)`` (a fork pool per
batch, as ``workers=2``), and a Dask ``LocalCluster`` on loopback TCP with 1 and 2 worker processes of
one thread each (started once per size, before the timing; ``allow_insecure=True``: loopback only). Sizes:
2^14 and 2^16 per side (quick: 2^12), half shared. Wall seconds, best of 2 (quick: 1); the ratio is to one
process in the same run. The messages and results are checked identical to one process's.

What Dask adds is the transfer of every batch (items or elements out, 32- or 16-byte results back, through
the scheduler's and workers' TCP), the per-task overhead, and pickling; on a 2-core machine the party
process, the scheduler and the workers share the cores.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks._common import Table
from blindmatch.executors import DaskExecutor, Executor, ProcessExecutor
from blindmatch.psi import Initiator, Responder


def _sets(n: int) -> tuple[list[bytes], list[bytes]]:
    shared = n // 2
    a = [b"a-only-%d@lab-a.example" % i for i in range(n - shared)]
    b = [b"b-only-%d@lab-b.example" % i for i in range(n - shared)]
    both = [b"both-%d@example.org" % i for i in range(shared)]
    return a + both, b + both


def _exchange(a: list[bytes], b: list[bytes], executor: Executor) -> tuple[Any, ...]:
    init = Initiator(a, "mutual", seed=b"\x01" * 32, executor=executor)
    resp = Responder(b, seed=b"\x02" * 32, executor=executor)
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    return m1, m2, m3, init.result, resp.result


def _timed(a: list[bytes], b: list[bytes], executor: Executor, repeat: int) -> tuple[float, tuple[Any, ...]]:
    best, out = float("inf"), ()
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = _exchange(a, b, executor)
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(quick: bool) -> list[Table]:
    try:
        import distributed
    except ImportError:  # the bench extra installs it
        return [Table("Dask executor: skipped (dask.distributed is not installed)", ["-"])]
    exps = [12] if quick else [14, 16]
    repeat = 1 if quick else 2
    table = Table(
        "One mutual PSI exchange per executor (both parties on it; wall seconds)",
        ["per side", "executor", "seconds", "x 1 process", "identical"],
    )
    for e in exps:
        a, b = _sets(1 << e)
        base, ref = _timed(a, b, ProcessExecutor(1), repeat)
        table.add(f"2^{e}", "1 process", base, 1.0, "-")
        t, out = _timed(a, b, ProcessExecutor(2), repeat)
        table.add(f"2^{e}", "ProcessExecutor(2)", t, t / base, out == ref)
        for n_workers in (1, 2):
            with (
                distributed.LocalCluster(
                    n_workers=n_workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                    dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                ) as cluster,
                distributed.Client(cluster, set_as_default=False) as client,
            ):  # fmt: skip
                ex = DaskExecutor(client, allow_insecure=True)
                t, out = _timed(a, b, ex, repeat)
            table.add(f"2^{e}", f"Dask LocalCluster, {n_workers} worker(s)", t, t / base, out == ref)
    table.notes.append(
        "2 shared cores: the party process, the Dask scheduler and the workers compete for them; a real "
        "cluster puts the workers on other machines (inside the lab's trust boundary, over TLS)."
    )
    return [table]
