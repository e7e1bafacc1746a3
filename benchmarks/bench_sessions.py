"""Sessions: what an authenticated, encrypted, padded session costs over the bare PSI core.

Both runs use the same item byte strings (2^14 per side, quick: 2^10; a quarter shared) and
``workers=1``. The bare core is :func:`blindmatch.psi.run_in_memory`; the session runs the same PSI inside
:class:`~blindmatch.session.InitiatorSession` / :class:`~blindmatch.session.ResponderSession` (Ed25519
signatures on every message, X25519 + HKDF, ChaCha20-Poly1305, transcript hashing, exact-length checks,
dummy generation).

Times are CPU seconds of this process (``time.process_time``; everything runs in it with workers=1), so
other processes on a shared machine disturb them far less than wall time. Runs alternate (bare, session,
bare, ...) and the best of each is kept. The "session layer" column is measured inside the session run
itself: its CPU time minus the CPU time spent inside the PSI parties' calls, i.e. the cost of the session
code alone, which is the number the goal (under 5% of the bare PSI) is about.
"""

from __future__ import annotations

import time
from typing import Any

import blindmatch.session.initiator as initiator_mod
import blindmatch.session.responder as responder_mod
from benchmarks._common import Table, peak_rss_mib
from blindmatch.psi import Initiator, Responder, indicator_item, run_in_memory
from blindmatch.session import Identity, InitiatorSession, PeerStore, ResponderSession, run_session_in_memory

_psi_cpu = [0.0]


def _timed(fn: Any) -> Any:
    def wrapper(self: Any, *args: Any) -> Any:
        t0 = time.process_time()
        try:
            return fn(self, *args)
        finally:
            _psi_cpu[0] += time.process_time() - t0

    return wrapper


class _TimedInitiator(Initiator):
    start = _timed(Initiator.start)
    finish = _timed(Initiator.finish)


class _TimedResponder(Responder):
    respond = _timed(Responder.respond)
    finish = _timed(Responder.finish)


def _sets(n: int) -> tuple[list[bytes], list[bytes]]:
    shared = n // 4
    a = [f"a{i}@lab-a.example" for i in range(n - shared)] + [f"s{i}@both.example" for i in range(shared)]
    b = [f"b{i}@lab-b.example" for i in range(n - shared)] + [f"s{i}@both.example" for i in range(shared)]
    return [indicator_item("email", v) for v in a], [indicator_item("email", v) for v in b]


def run(quick: bool) -> list[Table]:
    exps = [10] if quick else [10, 14]
    repeat = 2 if quick else 3
    alice, bob = Identity.generate(), Identity.generate()
    peers = PeerStore()
    peers.add("alice", alice.public)
    table = Table(
        "Session overhead over the bare PSI core (workers=1, CPU seconds)",
        [
            "per side",
            "mode",
            "padding",
            "bare PSI s",
            "session s",
            "end-to-end",
            "session layer s",
            "session layer",
            "bare wire B",
            "session wire B",
        ],
    )
    saved = initiator_mod.PsiInitiator, responder_mod.PsiResponder
    initiator_mod.PsiInitiator = _TimedInitiator  # type: ignore[misc]
    responder_mod.PsiResponder = _TimedResponder  # type: ignore[misc]
    try:
        for e in exps:
            n = 1 << e
            rows = [(n, "intersection", "none"), (n, "mutual", "none"), (n - n // 4, "intersection", "pow2")]
            for size, mode, padding in rows:
                ia, ib = _sets(size)
                bare_best = sess_best = layer_best = float("inf")
                sess_bytes = 0
                for _ in range(repeat):
                    t0 = time.process_time()
                    ri, _rr = run_in_memory(ia, ib, mode)  # type: ignore[arg-type]
                    bare_best = min(bare_best, time.process_time() - t0)
                    _psi_cpu[0] = 0.0
                    t0 = time.process_time()
                    init = InitiatorSession(
                        alice,
                        bob.public,
                        items=ia,
                        mode=mode,
                        max_items=1 << 20,
                        padding=padding,
                        purpose="benchmark",
                    )
                    resp = ResponderSession(bob, peers, items=ib)
                    wire = run_session_in_memory(init, resp)
                    total = time.process_time() - t0
                    sess_best = min(sess_best, total)
                    layer_best = min(layer_best, total - _psi_cpu[0])
                    if init.result is None or init.result.count != ri.count:
                        raise RuntimeError("session and bare PSI disagree")
                    sess_bytes = sum(len(w) for w in wire)
                pi = Initiator(ia, mode)  # type: ignore[arg-type]
                m1 = pi.start()
                m2 = Responder(ib).respond(m1)
                m3 = pi.finish(m2)
                bare_bytes = len(m1) + len(m2) + (len(m3) if m3 else 0)
                label = f"2^{e}" if size == n else f"{size:,} -> 2^{e}"
                table.add(
                    label,
                    mode,
                    padding,
                    bare_best,
                    sess_best,
                    f"{100 * (sess_best / bare_best - 1):+.1f}%",
                    layer_best,
                    f"{100 * layer_best / bare_best:.2f}%",
                    bare_bytes,
                    sess_bytes,
                )
    finally:
        initiator_mod.PsiInitiator, responder_mod.PsiResponder = saved  # type: ignore[misc]
    table.notes.append(
        "end-to-end: session CPU / bare PSI CPU - 1 (best of runs); session layer: CPU of the session run "
        "outside the PSI calls, as a share of the bare PSI. Rows with padding none measure the session "
        "layer itself (goal: under 5%)."
    )
    table.notes.append(
        "The pow2 row pads 3/4 * 2^k items per side up to 2^k with dummies: its extra end-to-end time (about "
        "+33%) is PSI work on the dummies, the price of hiding the sizes, not channel overhead."
    )
    table.notes.append(f"peak RSS {peak_rss_mib():.0f} MiB")
    return [table]
