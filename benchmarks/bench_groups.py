"""Over-threshold matching among n = 3 labs (docs/groups.md) against one two-party mutual session at the
same size, measured in the same run: 2^14 and 2^17 items per lab (quick: 2^10), t = 2 and t = 3, half of
each lab's items shared with the next lab and a tenth with all.

Everything runs in this process, one step at a time, and each step's CPU time (``time.process_time``) is
charged to the lab (or coordinator) that does it: the ring (one-time blinding and check value, the hops with
their proofs, the owner's check and unblinding, the same for every t), the shares, the coordinator's join,
the results. Labs run on their own machines, so a run takes, step by step, the slowest lab's time: "run" is
the sum over the ring's steps of the slowest lab's step, plus the slowest lab's shares, the coordinator and
the slowest lab's results. The session's "time" is both parties' CPU in one process (initiator and
responder); "per party" is the slower party's share of it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

from benchmarks._common import Table
from blindmatch.groups import threshold_wire as wire
from blindmatch.groups.overthreshold import RingLab, RunParams, bins_and_slots, coordinate
from blindmatch.groups.overthreshold import _ring_at as ring_at
from blindmatch.psi import indicator_item
from blindmatch.session import Identity, InitiatorSession, PeerStore, ResponderSession, SessionParty

T = TypeVar("T")
#: A run message's header and signature around its body (groups/threshold_wire.py).
WIRE_OVERHEAD = 5 + 1 + 16 + 2 + 64


def _sets(n_items: int) -> list[list[bytes]]:
    common = [f"all{i}" for i in range(n_items // 10)]
    out = []
    for lab in range(3):
        nxt = [f"p{lab}-{i}" for i in range(n_items // 2)]
        prev = [f"p{(lab - 1) % 3}-{i}" for i in range(n_items // 2)]
        mine = list(dict.fromkeys(common + nxt + prev))[:n_items]
        out.append([indicator_item("email", v + "@lab.example") for v in mine])
    return out


def _cpu(charge: dict[Any, float], who: Any, fn: Callable[..., T], *args: Any) -> T:
    t0 = time.process_time()
    try:
        return fn(*args)
    finally:
        charge[who] = charge.get(who, 0.0) + time.process_time() - t0


def _session(a: list[bytes], b: list[bytes]) -> tuple[float, float, int]:
    """One mutual session in memory: (both parties' CPU, the slower party's CPU, bytes on the wire)."""
    alice, bob = Identity.generate(), Identity.generate()
    peers = PeerStore()
    peers.add("alice", alice.public)
    cpu: dict[str, float] = {}
    init = _cpu(cpu, "i", lambda: InitiatorSession(alice, bob.public, items=a, mode="mutual",
                                                   max_items=1 << 20, purpose="benchmark"))  # fmt: skip
    resp = _cpu(cpu, "r", lambda: ResponderSession(bob, peers, items=b))
    msg: bytes | None = _cpu(cpu, "i", init.start)
    sender: SessionParty = init
    wire = 0
    while msg is not None:
        wire += len(msg)
        receiver: SessionParty = resp if sender is init else init
        msg = _cpu(cpu, "i" if receiver is init else "r", receiver.receive, msg)
        sender = receiver
    if init.result is None:
        raise RuntimeError("the session gave no result")
    return cpu["i"] + cpu["r"], max(cpu.values()), wire


def _ring(sets: list[list[bytes]]) -> tuple[dict[int, RingLab], list[dict[int, float]], dict[int, int]]:
    """The ring for 3 labs: the labs (finished), each step's CPU per lab, bytes each lab sent."""
    n, size = 3, len(sets[0])
    params = RunParams(n, 2, size, bytes(range(16)))
    labs = {i: RingLab(i, sets[i - 1], params, seed=bytes([i]) * 32) for i in range(1, n + 1)}
    params = params.with_keys({i: lab.public_key for i, lab in labs.items()})
    for lab in labs.values():
        lab.params = params
    steps: list[dict[int, float]] = [{} for _ in range(n + 1)]
    sent = dict.fromkeys(labs, 0)
    hops = {i: _cpu(steps[0], i, labs[i].start) for i in labs}
    for step in range(1, n + 1):
        for owner, hop in list(hops.items()):
            by = hop.by(n)
            sent[by] += len(wire.encode_hop(hop)) + WIRE_OVERHEAD
            lab = labs[ring_at(owner, step, n)]
            if step < n:
                hops[owner] = _cpu(steps[step], lab.index, lab.apply, hop)
            else:
                _cpu(steps[step], lab.index, lab.finish, hop)
    return labs, steps, sent


def _threshold(labs: dict[int, RingLab], t: int) -> tuple[dict[Any, float], int, int]:
    """Shares, the coordinator's join and the results for one t: CPU per lab and for the coordinator
    ("c"), bytes uploaded per lab, over-threshold items found by lab 1."""
    cpu: dict[Any, float] = {}
    for lab in labs.values():
        lab.params = dataclasses.replace(lab.params, t=t)
    uploads = {i: _cpu(cpu, ("s", i), lab.shares) for i, lab in labs.items()}
    params = labs[1].params
    passed = _cpu(cpu, "c", coordinate, params, uploads)
    found = {i: _cpu(cpu, ("r", i), lab.results, passed[i]) for i, lab in labs.items()}
    return cpu, len(wire.encode_upload(uploads[1])) + WIRE_OVERHEAD, len(found[1])


def run(quick: bool) -> list[Table]:
    sizes = [10] if quick else [14, 17]
    table = Table(
        "Over-threshold, n = 3 labs, against one two-party mutual session (CPU seconds, one process)",
        ["per lab", "t", "bins x slots", "ring per lab (s)", "shares + results per lab (s)",
         "coordinator (s)", "run, labs in parallel (s)", "mutual session (s)", "run / session",
         "run / session's slower party", "bytes sent per lab", "found (lab 1)"],
    )  # fmt: skip
    for e in sizes:
        sets = _sets(1 << e)
        session, slower, _wire = _session(sets[0], sets[1])
        labs, steps, sent = _ring(sets)
        ring_run = sum(max(step.values()) for step in steps)
        ring_lab = max(sum(step.get(i, 0.0) for step in steps) for i in labs)
        for t in (2, 3):
            cpu, upload, found = _threshold(labs, t)
            per_lab = max(cpu[("s", i)] + cpu[("r", i)] for i in labs)
            slowest = max(cpu[("s", i)] for i in labs), max(cpu[("r", i)] for i in labs)
            run_time = ring_run + slowest[0] + cpu["c"] + slowest[1]
            bins, m = bins_and_slots(1 << e, 3, t)
            table.add(f"2^{e}", t, f"{bins} x {m}", ring_lab, per_lab, cpu["c"], run_time, session,
                      f"{run_time / session:.2f}x", f"{run_time / slower:.2f}x", max(sent.values()) + upload,
                      found)  # fmt: skip
    table.notes.append(
        "Issue 16's goal: n = 3, t = 2, 2^17 per lab, the run within 3x one mutual session at the same size."
    )
    return [table]
