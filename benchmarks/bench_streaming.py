"""Streaming DH-PSI (``blindmatch.streaming``): one mutual exchange per size, each party in its own process.

The two parties are started with ``multiprocessing`` (spawn, so each child's peak RSS is its own, not the
parent's at fork time) and exchange chunks through a ``Pipe`` (``send_bytes``/``recv_bytes``). Items are
generated on the fly (a generator, never a list): the initiator holds ``item-0 .. item-(n-1)``, the
responder ``item-(n/2) .. item-(3n/2-1)``, so half of each set is shared. Each child reports its wall time
(preparing its own list included), its time to prepare, its peak RSS (``ru_maxrss`` read inside the child,
which includes the interpreter and numpy) and the bytes it sent. ``chunk_items``, ``frame_items`` (DH) and
``bucket_items`` (OT) are the defaults (65536). Both streaming engines: DH and the OT engine in buckets.

Sizes per side: DH 2^14, 2^18, 2^20 (quick: 2^12); OT 2^14, 2^18, 2^20, 2^23 (quick: 2^12); DH at 2^23
only with ``BLINDMATCH_BENCH_HUGE=1`` (about 8x the 2^20 time). Goal: peak RSS under 1 GB per party at
2^23.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from benchmarks._common import Table
from blindmatch.session.identity import Identity
from blindmatch.streaming._base import StreamParty
from blindmatch.streaming._run import ENGINES

_SEEDS = (bytes([1]) * 32, bytes([2]) * 32)


def _items(start: int, count: int) -> Iterator[bytes]:
    return (b"item-%d" % i for i in range(start, start + count))


def _drive(party: StreamParty, conn: Connection) -> int:
    sent = 0
    while not party.done:
        while (chunk := party.next_chunk()) is not None:
            conn.send_bytes(chunk)
            sent += len(chunk)
        if party.done:
            break
        try:
            party.receive_chunk(conn.recv_bytes(party.max_chunk_bytes))
        except EOFError:
            party.end_of_stream()
    return sent


def _child(
    role: str, engine: str, n: int, conn: Connection, report: Connection, workdir: str, key: bytes, sid: bytes
) -> None:
    ids = [Identity.from_seed(s) for s in _SEEDS]
    me = 0 if role == "initiator" else 1
    chosen = ENGINES[engine.lower()]
    cls: Any = chosen.initiator if me == 0 else chosen.responder
    start = 0 if me == 0 else n // 2
    t0 = time.perf_counter()
    with cls(
        _items(start, n), mode="mutual", session_id=sid, session_key=key, identity=ids[me],
        peer=ids[1 - me].public, workdir=workdir, seed=bytes([7 + me]) * 32,
    ) as party:  # fmt: skip
        party.prepare()
        t_prep = time.perf_counter() - t0
        sent = _drive(party, conn)
        count = party.result.count
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.send((role, wall, t_prep, rss, sent, count))


def _one(engine: str, n: int) -> dict[str, tuple[Any, ...]]:
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe()
    reports = [ctx.Pipe(duplex=False) for _ in range(2)]
    key, sid = os.urandom(32), os.urandom(16)
    with tempfile.TemporaryDirectory() as wd:
        procs = [
            ctx.Process(target=_child, args=(role, engine, n, conn, rep[1], wd, key, sid))
            for role, conn, rep in (("initiator", a, reports[0]), ("responder", b, reports[1]))
        ]
        for p in procs:
            p.start()
        out = {}
        for rep in reports:
            row = rep[0].recv()
            out[row[0]] = row
        for p in procs:
            p.join()
        left = os.listdir(wd)
    if left:
        raise RuntimeError(f"spill files left behind: {left}")
    return out


def run(quick: bool) -> list[Table]:
    dh = [1 << 12] if quick else [1 << 14, 1 << 18, 1 << 20]
    if os.environ.get("BLINDMATCH_BENCH_HUGE") == "1" and not quick:
        dh.append(1 << 23)
    ot = [1 << 12] if quick else [1 << 14, 1 << 18, 1 << 20, 1 << 23]
    t = Table(
        "Streaming PSI, mode mutual, each party in its own process (chunk, frame and bucket items 65536)",
        ["n per side", "engine", "initiator s (prepare)", "responder s (prepare)", "initiator RSS MiB",
         "responder RSS MiB", "wire MiB I->R / R->I", "shared", "RSS goal < 1 GiB"],
    )  # fmt: skip
    for engine, n in [("DH", n) for n in dh] + [("OT", n) for n in ot]:
        r = _one(engine, n)
        i, s = r["initiator"], r["responder"]
        mib = 1 << 20
        t.add(
            f"2^{n.bit_length() - 1}", engine, f"{i[1]:.1f} ({i[2]:.1f})", f"{s[1]:.1f} ({s[2]:.1f})",
            i[3], s[3],
            f"{i[4] / mib:.1f} / {s[4] / mib:.1f}", i[5], "yes" if max(i[3], s[3]) < 1024 else "NO",
        )  # fmt: skip
    t.notes.append(
        "wall seconds per party from its start to its verified result; (prepare) = blinding, sorting and "
        "padding its own list, which both do at once; peak RSS = ru_maxrss inside each child process"
    )
    t.notes.append(
        "DH at 2^23 per side runs only with BLINDMATCH_BENCH_HUGE=1 (about half an hour); time grows linearly"
        " with n; the OT engine runs one KKRT session per bucket of 65536 items (docs/streaming.md)"
    )
    return [t]
