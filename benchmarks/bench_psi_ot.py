"""The OT-extension engine (docs/protocol-ot.md) against the DH engine and OpenMined PSI, same run.

For 2^16, 2^18 and 2^20 items per side (quick: 2^12 and 2^14), half of them shared, mode ``intersection``:

* OT engine: each party runs in its own process (spawned, fresh interpreter), the two joined by a pipe.
  Each side's wall time counts its own work, base OTs included (start to its last message), minus the time
  it spent waiting for the other's messages; end to end is the initiator's start to its result. Wire bytes
  per item (both directions, over both sets) and each process's peak RSS.
* DH engine (``blindmatch.psi``), one worker, in its own process (``bench_psi``'s runner): end to end.
* OpenMined PSI 2.0.6 (P-256, GCS at fpr 1e-9): end to end, up to 2^18 per side in the full run (2^20 takes
  about five minutes; ``docs/benchmarks.md`` has that figure from the PSI section).

Goal (issue 15): at 2^20 per side, at most 10 s per side and at least 20x faster than the DH engine.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from benchmarks._common import Table, peak_rss_mib
from benchmarks.bench_psi import _measure, _sets


def _side(role: str, conn: Any, n: int, queue: Any) -> None:
    from blindmatch.otpsi import OtInitiator, OtResponder

    a, b, shared = _sets(n, n)
    sid = bytes(16)
    waited = sent = 0.0
    t0 = time.perf_counter()
    if role == "initiator":
        party = OtInitiator(a, "intersection", seed=bytes(32), peer_size=len(b), session_id=sid)
        msg: bytes | None = party.start()
        while msg is not None:
            sent += len(msg)
            conn.send_bytes(msg)
            w = time.perf_counter()
            reply = conn.recv_bytes()
            waited += time.perf_counter() - w
            msg = party.finish(reply)
            if party.done:
                break
        if party.result.count != shared:
            raise RuntimeError("the OT engine gave a wrong intersection size")
    else:
        resp = OtResponder(b, seed=bytes(range(32)), peer_size=len(a), session_id=sid)
        for _ in range(2):
            w = time.perf_counter()
            req = conn.recv_bytes()
            if _ == 0:
                t0 = time.perf_counter()  # the responder's clock starts with the first request
            else:
                waited += time.perf_counter() - w
            out = resp.respond(req)
            sent += len(out)
            conn.send_bytes(out)
    total = time.perf_counter() - t0
    queue.put({"role": role, "work": total - waited, "total": total, "sent": sent, "rss": peak_rss_mib()})


def _ot(n: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    left, right = ctx.Pipe()
    procs = [
        ctx.Process(target=_side, args=("initiator", left, n, queue)),
        ctx.Process(target=_side, args=("responder", right, n, queue)),
    ]
    for p in procs:
        p.start()
    out = {r["role"]: r for r in (queue.get(), queue.get())}
    for p in procs:
        p.join()
    return out


def run(quick: bool) -> list[Table]:
    sizes = [1 << 12, 1 << 14] if quick else [1 << 16, 1 << 18, 1 << 20]
    t = Table(
        "OT-extension engine vs DH engine and OpenMined PSI (mode intersection, half shared, one worker)",
        [
            "n per side",
            "OT initiator (s)",
            "OT responder (s)",
            "OT end to end (s)",
            "OT bytes/item",
            "OT peak RSS (MiB, init / resp)",
            "DH end to end (s)",
            "DH / OT",
            "OpenMined (s)",
        ],
    )
    for n in sizes:
        ot = _ot(n)
        i, r = ot["initiator"], ot["responder"]
        dh = _measure("blindmatch", n, n, 1)
        om = _measure("openmined", n, n) if n <= (1 << 18) else {"total": None}
        t.add(
            n,
            i["work"],
            r["work"],
            i["total"],
            (i["sent"] + r["sent"]) / (2 * n),
            f"{i['rss']:.0f} / {r['rss']:.0f}",
            dh.get("total"),
            (dh.get("total") or 0) / i["total"],
            om.get("total") if om.get("total") is not None else "",
        )
    t.notes.append("OT per-side times exclude waiting for the other side; end to end is the initiator's.")
    return [t]
