"""Cuckoo hashing of the OT-extension engine (``blindmatch.psi._cuckoo``): speed and empirical failures.

* Speed: ``bin_indexes`` for the receiver's n items (3 bins each, n AES blocks per hash function) and for
  the sender's side of the same size, then ``cuckoo_insert`` of the n items into ``cuckoo_bins(n)`` bins,
  for n = 2^16, 2^18, 2^20 (quick: 2^16); best of 3. Goal: 2^20 inserted well under 1 s.
* Empirical failure counts for small n: independent trials, each with fresh random 128-bit item hashes under
  one random key, at ``cuckoo_bins(n)`` bins (10^5 trials per n; quick: 10^3). A bound of 2^-40 predicts no
  failure at all. Rows at ``ceil(1.27 n)`` bins show that the count does see failures where they are likely.
  Trials run in batches as one big table (each trial in its own range of bins, so they cannot interact); a
  batch that fails is rerun trial by trial to count.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks._common import Table, best_time
from blindmatch.psi._cuckoo import (
    CuckooFailure,
    bin_indexes,
    cuckoo_bins,
    cuckoo_insert,
    failure_bound_log2,
)

_BATCH_ITEMS = 1 << 20


def _speed(sizes: list[int]) -> Table:
    t = Table(
        "Cuckoo hashing: keyed bins and insertion (3 hashes, no stash)",
        ["n", "bins", "bins/n", "bin_indexes s", "M items/s", "cuckoo_insert s", "M items/s", "goal"],
    )
    rng = np.random.default_rng(1)
    key = rng.bytes(16)
    for n in sizes:
        hashes = rng.integers(0, 256, (n, 16), dtype=np.uint8)
        bins = cuckoo_bins(n)
        t_idx = best_time(lambda h=hashes, b=bins: bin_indexes(h, key, b), 3)
        idx = bin_indexes(hashes, key, bins)
        t_ins = best_time(lambda i=idx, b=bins: cuckoo_insert(i, b), 3)
        goal = ("yes" if t_ins < 1.0 else "NO") if n >= 1 << 20 else ""
        t.add(n, bins, bins / n, t_idx, n / t_idx / 1e6, t_ins, n / t_ins / 1e6, goal)
    t.notes.append(
        "best of 3; bin_indexes = three AES-128-ECB passes (cryptography, update_into on 64 KiB slices), "
        "128-bit reductions and the distinct-bin mapping; the sender computes the same for its items. "
        "cuckoo_insert = the vectorized random walk (plus the exact search for any leftover item); "
        "goal: 2^20 under 1 s"
    )
    return t


def _failures(n: int, bins: int, trials: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    key = rng.bytes(16)
    per = max(1, _BATCH_ITEMS // max(n, 1))
    failures = done = 0
    while done < trials:
        count = min(per, trials - done)
        idx = bin_indexes(rng.integers(0, 256, (count * n, 16), dtype=np.uint8), key, bins)
        idx += (np.repeat(np.arange(count, dtype=np.int64), n) * bins)[:, None]
        try:
            cuckoo_insert(idx, count * bins)
        except CuckooFailure:
            for i in range(count):
                try:
                    cuckoo_insert(idx[i * n : (i + 1) * n] - i * bins, bins)
                except CuckooFailure:
                    failures += 1
        done += count
    return failures


def _empirical(trials: int) -> Table:
    t = Table(
        f"Cuckoo insertion failures, {trials:,} trials per row",
        ["n", "bins", "bins/n", "rule", "first-moment bound", "failures", "rate"],
    )
    rows = [(n, cuckoo_bins(n), "cuckoo_bins") for n in (16, 64, 256, 1024)]
    rows += [(n, math.ceil(1.27 * n), "1.27n (contrast)") for n in (16, 64)]
    for i, (n, bins, rule) in enumerate(rows):
        fails = _failures(n, bins, trials, seed=100 + i)
        bound = failure_bound_log2(n, bins)
        t.add(n, bins, bins / n, rule, f"2^{bound:.1f}" if bound < 0 else ">= 1", fails, fails / trials)
    t.notes.append(
        "each trial: n fresh random item hashes, one random key, bin_indexes then cuckoo_insert; "
        "first-moment bound = sum over k >= 4 of C(n,k) C(bins,k-1) (C(k-1,3)/C(bins,3))^k (an upper bound)"
    )
    return t


def run(quick: bool) -> list[Table]:
    sizes = [1 << 16] if quick else [1 << 16, 1 << 18, 1 << 20]
    return [_speed(sizes), _empirical(1_000 if quick else 100_000)]
