"""Sessions: what an authenticated, encrypted, padded session costs over the bare PSI core.

Both runs use the same items (2^14 per side, quick: 2^10; a quarter shared) and ``workers=1``. The bare
core is :func:`blindmatch.psi.run_in_memory`; the session runs the same PSI on the same item bytes inside
:class:`~blindmatch.session.InitiatorSession` / :class:`~blindmatch.session.ResponderSession` (Ed25519
signatures on every message, X25519 + HKDF, ChaCha20-Poly1305, transcript hashing, dummy generation).
Runs alternate (bare, session, bare, ...) and the best of each is kept, so machine noise hits both alike.
Goal: overhead under 5%.
"""

from __future__ import annotations

import time

from benchmarks._common import Table, peak_rss_mib
from blindmatch.psi import Initiator, Responder, indicator_item, run_in_memory
from blindmatch.session import Identity, InitiatorSession, PeerStore, ResponderSession, run_session_in_memory


def _sets(n: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    shared = n // 4
    a = [f"a{i}@lab-a.example" for i in range(n - shared)] + [f"s{i}@both.example" for i in range(shared)]
    b = [f"b{i}@lab-b.example" for i in range(n - shared)] + [f"s{i}@both.example" for i in range(shared)]
    return {"email": a}, {"email": b}


def _items(d: dict[str, list[str]]) -> list[bytes]:
    return [indicator_item(k, v) for k, vs in d.items() for v in vs]


def run(quick: bool) -> list[Table]:
    exps = [10] if quick else [10, 14]
    repeat = 2 if quick else 3
    alice, bob = Identity.generate(), Identity.generate()
    peers = PeerStore()
    peers.add("alice", alice.public)
    table = Table(
        "Session overhead over the bare PSI core (workers=1)",
        [
            "per side",
            "mode",
            "padding",
            "bare PSI s",
            "session s",
            "overhead",
            "bare wire B",
            "session wire B",
            "handshake B",
        ],
    )
    for e in exps:
        n = 1 << e
        rows = [(n, "intersection", "none"), (n, "mutual", "none"), (n - n // 4, "intersection", "pow2")]
        for size, mode, padding in rows:
            a, b = _sets(size)
            ia, ib = _items(a), _items(b)
            bare_best = sess_best = float("inf")
            sess_bytes = hs_bytes = 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                ri, _rr = run_in_memory(ia, ib, mode)  # type: ignore[arg-type]
                bare_best = min(bare_best, time.perf_counter() - t0)
                t0 = time.perf_counter()
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
                sess_best = min(sess_best, time.perf_counter() - t0)
                if init.result is None or init.result.count != ri.count:
                    raise RuntimeError("session and bare PSI disagree")
                sess_bytes = sum(len(w) for w in wire)
                hs_bytes = len(wire[0]) + len(wire[1])
            # wire bytes of the bare core: the same messages without the session
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
                bare_bytes,
                sess_bytes,
                hs_bytes,
            )
    table.notes.append(
        "Rows with padding none measure the session layer itself (the goal: under 5%). The pow2 row pads "
        "3/4 * 2^k items per side up to 2^k with dummies: that extra PSI work (about +33% here) is the price "
        "of hiding the sizes, not channel overhead."
    )
    table.notes.append(f"peak RSS {peak_rss_mib():.0f} MiB")
    return [table]
