"""The OT-extension core (``blindmatch.hazmat.ot``, KKRT16): each step timed on its own, and the size of U.

Sizes as in a 2^20-per-side KKRT PSI (quick: 2^16): ``n`` items per side, ``m = 1.27 n`` cuckoo bins (the
receiver's OPRF instances), ``3 n`` sender rows (one per item and hash function).

* base OTs: ``W = 512`` random 1-out-of-2 OTs on edwards25519, each side's own steps timed (sender:
  ``base_ot_sender_start`` + ``finish``; receiver: ``base_ot_receiver``);
* ``prc`` of ``m`` item hashes (4 AES blocks each);
* ``extension_receiver`` (two AES-CTR expansions of 512 seeds to ``m`` bits, two bit transposes) and
  ``extension_sender`` (one expansion, one transpose) at ``m``;
* ``transpose_bits`` of a 512 x m bit matrix alone;
* ``sender_rows`` and ``row_hash`` (BLAKE2b, 16-byte outputs) of ``3 n`` rows; ``row_hash`` of the ``m``
  receiver rows;
* the bytes of U (``512 * ceil(m / 64) * 8``), per receiver item.

Each time is the best of ``repeat`` runs (GC off); peak RSS is the process's after all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._common import Table, best_time, peak_rss_mib
from blindmatch.hazmat import ot

CTX = b"bench ot-core"


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    holder: list[Any] = [None]

    def call() -> None:
        holder[0] = None  # free the previous result first: peak RSS as one run has it
        holder[0] = fn()

    t = best_time(call, repeat)
    return t, holder[0]


def _base(repeat: int) -> tuple[float, float, list[tuple[bytes, bytes]], list[bytes], bytes]:
    choices = os.urandom(ot.CHOICE_BYTES)
    state: dict[str, Any] = {}

    def start() -> None:
        state["sender"], state["msg1"] = ot.base_ot_sender_start(os.urandom(32), CTX)

    def receive() -> None:
        state["msg2"], state["chosen"] = ot.base_ot_receiver(choices, state["msg1"], os.urandom(32), CTX)

    def finish() -> None:
        state["pairs"] = state["sender"].finish(state["msg2"])

    t_s1 = t_r = t_s2 = float("inf")
    for _ in range(repeat):
        t_s1 = min(t_s1, best_time(start, 1))
        t_r = min(t_r, best_time(receive, 1))
        t_s2 = min(t_s2, best_time(finish, 1))
    return t_s1 + t_s2, t_r, state["pairs"], state["chosen"], choices


def _transpose_time(rng: np.random.Generator, m: int, repeat: int) -> float:
    cols = rng.integers(0, 256, (512, ot.padded_rows(m) // 8), dtype=np.uint8)
    return _timed(lambda: ot.transpose_bits(cols), repeat)[0]


def run(quick: bool) -> list[Table]:
    n = 1 << (16 if quick else 20)
    m, rows = int(1.27 * n), 3 * n
    repeat = 3 if quick else 2
    rng = np.random.default_rng(15)
    t_bs, t_br, pairs, chosen, choices = _base(repeat)
    hashes = rng.integers(0, 256, (m, 16), dtype=np.uint8)
    code_key = os.urandom(16)
    t_prc, codewords = _timed(lambda: ot.prc(code_key, hashes), repeat)
    t_er, (u, t) = _timed(lambda: ot.extension_receiver(pairs, codewords, CTX), repeat)
    t_es, q = _timed(lambda: ot.extension_sender(chosen, choices, u, m, CTX), repeat)
    assert np.array_equal(q, t ^ (codewords & np.frombuffer(choices, np.uint8)))
    t_tr = _transpose_time(rng, m, repeat)
    bins = rng.integers(0, m, rows)
    mine = rng.integers(0, 256, (rows, 64), dtype=np.uint8)
    t_sr, srows = _timed(lambda: ot.sender_rows(q, bins, mine, choices), repeat)
    t_rh, _ = _timed(lambda: ot.row_hash(srows, bins, CTX, 16), repeat)
    t_rr, _ = _timed(lambda: ot.row_hash(t, np.arange(m), CTX, 16), repeat)

    table = Table(
        f"OT-extension core (KKRT16, W = 512): n = {n:,} per side, m = {m:,} bins, {rows:,} sender rows",
        ["step", "who", "size", "s", "per item µs"],
    )
    table.add("512 base OTs (start + finish)", "base-OT sender = KKRT receiver", 512, t_bs, "")
    table.add("512 base OTs (choose)", "base-OT receiver = KKRT sender", 512, t_br, "")
    table.add("prc (4 AES blocks / item)", "both", m, t_prc, t_prc / m * 1e6)
    table.add("extension_receiver -> U, T", "KKRT receiver", m, t_er, t_er / m * 1e6)
    table.add("extension_sender -> Q", "KKRT sender", m, t_es, t_es / m * 1e6)
    table.add("transpose_bits 512 x m", "(inside both)", m, t_tr, t_tr / m * 1e6)
    table.add("sender_rows", "KKRT sender", rows, t_sr, t_sr / rows * 1e6)
    table.add("row_hash (BLAKE2b, 16 B out)", "KKRT sender", rows, t_rh, t_rh / rows * 1e6)
    table.add("row_hash (BLAKE2b, 16 B out)", "KKRT receiver", m, t_rr, t_rr / m * 1e6)
    table.notes.append(
        f"U: {len(u):,} bytes = {len(u) / n:.1f} bytes per receiver item ({len(u) * 8 / n:.0f} bits); "
        f"best of {repeat}; peak RSS {peak_rss_mib():,.0f} MiB (the whole benchmark process)"
    )
    return [table]
