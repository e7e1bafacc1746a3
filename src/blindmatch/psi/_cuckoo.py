"""Cuckoo hashing for OT-extension PSI (KKRT16 shape): 3 hash functions, no stash, vectorized with numpy.

The receiver places its ``n`` items in a table of :func:`cuckoo_bins` bins, one item per bin, each item in
one of its 3 bins; the sender computes all 3 bins of each of its items. Both use :func:`bin_indexes` under
the same 16-byte key; the receiver then calls :func:`cuckoo_insert`.

* :func:`cuckoo_bins` -- the table size for failure probability at most 2^-40 (``docs/cuckoo.md``): for
  ``n <= 4096`` a proven first-moment (union) bound over Hall violators; above, the larger of the published
  1.27n (Pinkas-Schneider-Zohner, ACM TOPS 2018; Pinkas-Schneider-Weinert-Wieder, Eurocrypt 2018) and
  cryptoTools' ``CuckooIndex::selectParams`` fit ``e = (40 + log2 n + 256) / 240``.
* :func:`bin_indexes` -- three *distinct* bins per item from three fixed-key AES-128 permutations of the
  item's 128-bit hash, each 128-bit output reduced modulo ``bins``, ``bins - 1``, ``bins - 2`` and mapped past
  the bins already chosen (as cryptoTools' ``buildRow`` does), so the 3 bins are a uniform 3-subset.
* :func:`cuckoo_insert` -- a vectorized random walk (all homeless items move in each round; collisions are
  settled with numpy scatter/gather), then, for any item left over, an exact augmenting-path search. So
  insertion fails (:class:`CuckooFailure`) exactly when no placement of all items exists: it never drops an
  item and never rehashes with new keys (the failure depends on the inputs; the caller aborts).

Everything is deterministic given the inputs: the walk's choices come from a fixed-seed generator.
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import InvalidParameter, LocalError

__all__ = [
    "CRYPTOTOOLS_EXPANSION_CUTOFF",
    "EXACT_BOUND_LIMIT",
    "HASHES",
    "MIN_BINS",
    "PSZ_EXPANSION",
    "STATISTICAL_SECURITY",
    "CuckooFailure",
    "bin_indexes",
    "cuckoo_bins",
    "cuckoo_insert",
    "failure_bound_log2",
]

HASHES = 3
"""Hash functions per item."""

STATISTICAL_SECURITY = 40
"""Insertion fails with probability at most ``2**-STATISTICAL_SECURITY``."""

PSZ_EXPANSION = (127, 100)
"""1.27 bins per item (PSZ18 / PSWW18, 3 hashes, no stash), as a fraction so the ceiling is exact."""

EXACT_BOUND_LIMIT = 4096
"""Up to this many items :func:`cuckoo_bins` uses the complete first-moment bound (proven, conservative)."""

CRYPTOTOOLS_EXPANSION_CUTOFF = 512
"""cryptoTools' ``selectParams`` uses its linear fit from ``n >= 512`` (a per-size table below)."""

MIN_BINS = 3
"""Fewest bins of a table: every item has 3 distinct bins."""

_SMALL_STRUCTURES = 64
"""Above :data:`EXACT_BOUND_LIMIT`, the union bound is still checked over violators of up to this size."""

_WALK_SEED = 0x6B6B7274_31365F63
_STALL_ROUNDS = 16
_STALL_LARGE = 4096  # a walk this large that stops shrinking for 2 rounds is stuck (duplicates)
_AES_CHUNK = 1 << 16
_MAX_BINS = 1 << 32


class CuckooFailure(LocalError):
    """The items cannot be placed: some k of them have fewer than k bins among them (Hall's condition).

    Raised, never worked around: no item is dropped and no new hash key is tried, since the outcome depends
    on the inputs (retrying would leak it). The probability for distinct items under a fresh random key is
    at most 2^-40 with :func:`cuckoo_bins` bins; the caller aborts the session cleanly.
    """


# --------------------------------------------------------------------------------------------- table size


@lru_cache(maxsize=4)
def _log_factorials(size: int) -> np.ndarray:
    """``ln(i!)`` for ``i < size``."""
    out = np.zeros(size, dtype=np.float64)
    out[1:] = np.cumsum(np.log(np.arange(1, size, dtype=np.float64)))
    return out


def _ln_fact(x: np.ndarray) -> np.ndarray:
    table = _log_factorials(1 << 17)
    if x.size and int(x.max()) < table.size:
        out: np.ndarray = table[x]
        return out
    return np.array([math.lgamma(float(v) + 1.0) for v in x.tolist()], dtype=np.float64)


def _ln_choose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: np.ndarray = _ln_fact(a) - _ln_fact(b) - _ln_fact(a - b)
    return out


def failure_bound_log2(n: int, bins: int, max_size: int | None = None) -> float:
    """log2 of the first-moment bound on the failure probability of ``n`` items in ``bins`` bins.

    Insertion (which is complete) fails iff some k items have their 3k bins inside k-1 bins. With each
    item's bins a uniform 3-subset, ``P <= sum_{k=4..n} C(n,k) C(bins,k-1) (C(k-1,3)/C(bins,3))^k``
    (fewer than 4 items always fit). ``max_size`` limits k (then it bounds only small violators).
    """
    top = n if max_size is None else min(n, max_size)
    if top < 4:
        return -math.inf
    if bins < MIN_BINS or bins < n:
        return 0.0
    k = np.arange(4, top + 1, dtype=np.int64)
    full = np.full_like(k, 1)
    three = np.full_like(k, 3)
    ln_terms = (
        _ln_choose(full * n, k)
        + _ln_choose(full * bins, k - 1)
        + k * (_ln_choose(k - 1, three) - _ln_choose(full * bins, three))
    )
    peak = float(ln_terms.max())
    return (peak + math.log(float(np.exp(ln_terms - peak).sum()))) / math.log(2)


def _bins_by_bound(n: int, start: int, max_size: int | None, stat: int = STATISTICAL_SECURITY) -> int:
    """The fewest bins ``>= start`` whose first-moment bound is at most 2^-stat."""

    def ok(m: int) -> bool:
        return failure_bound_log2(n, m, max_size) <= -stat

    lo = start
    if ok(lo):
        return lo
    step = max(lo, 1)
    hi = lo + step
    while not ok(hi):
        lo, step = hi, 2 * step
        hi = lo + step
    while hi - lo > 1:  # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def _psz_bins(n: int) -> int:
    num, den = PSZ_EXPANSION
    return max(MIN_BINS, -(-num * n // den))


def _cryptotools_bins(n: int, stat: int = STATISTICAL_SECURITY) -> int:
    """cryptoTools ``CuckooIndex::selectParams`` (3 hashes, no stash, n >= 512): 40 = 240 e - log2 n - 256
    (``stat`` in place of 40 for another failure bound)."""
    expansion = (stat + math.log2(n) + 256) / 240
    return math.ceil(n * expansion)


def cuckoo_bins(n: int, stat_bits: int = STATISTICAL_SECURITY) -> int:
    """Bins of a 3-hash, stash-free cuckoo table for ``n`` receiver items, failure at most 2^-40
    (2^-``stat_bits``: the bucketed streaming engine asks 40 + log2 of its bucket count, so that all its
    tables together fail with at most 2^-40).

    * ``n <= 4096``: the fewest bins (at least ``max(3, ceil(1.27 n))``) whose complete first-moment bound
      (:func:`failure_bound_log2`) is at most 2^-40 -- a proof, for ideal hashes, since insertion is complete.
    * larger ``n``: the largest of ``ceil(1.27 n)`` (PSZ18 / PSWW18), cryptoTools' fit
      ``ceil(n (40 + log2 n + 256) / 240)``, the first-moment bound over violators of at most 64 items, and
      ``cuckoo_bins(4096)`` (so the count never decreases as ``n`` grows).

    Non-decreasing in ``n``, at least ``1.27 n`` and at least 3. See ``docs/cuckoo.md``.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("n must be an int")
    if n < 0 or n >= _MAX_BINS // 2:
        raise InvalidParameter(f"n must be in [0, 2^31), got {n}")
    if isinstance(stat_bits, bool) or not isinstance(stat_bits, int) or not 40 <= stat_bits <= 64:
        raise InvalidParameter("stat_bits must be an integer in [40, 64]")
    return _cuckoo_bins(n, stat_bits)


@lru_cache(maxsize=1024)
def _cuckoo_bins(n: int, stat: int = STATISTICAL_SECURITY) -> int:
    if n <= EXACT_BOUND_LIMIT:
        return _bins_by_bound(n, _psz_bins(n), None, stat)
    published = max(_psz_bins(n), _cryptotools_bins(n, stat), _cuckoo_bins(EXACT_BOUND_LIMIT, stat))
    return _bins_by_bound(n, published, _SMALL_STRUCTURES, stat)


# ----------------------------------------------------------------------------------------------- hashing


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer):
        raise TypeError("bins must be an int")
    if not MIN_BINS <= int(bins) <= _MAX_BINS:
        raise InvalidParameter(f"bins must be in [{MIN_BINS}, 2^32], got {bins}")


def _aes_ecb(key: bytes, data: np.ndarray) -> np.ndarray:
    """AES-128-ECB of the rows of ``data`` ((n, 16) uint8, C-contiguous) under ``key``, as (n, 16) uint8."""
    out = np.empty(data.size + 15, dtype=np.uint8)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 -- a PRP on single blocks
    flat = memoryview(data.reshape(-1))  # type: ignore[arg-type]
    view = memoryview(out)  # type: ignore[arg-type]
    for lo in range(0, data.size, _AES_CHUNK):
        hi = min(lo + _AES_CHUNK, data.size)
        enc.update_into(flat[lo:hi], view[lo : hi + 15])
    return out[: data.size].reshape(-1, 16)


def _subkeys(key: bytes) -> list[bytes]:
    """Three AES keys ``AES_key(i)``, i = 0, 1, 2: one independent permutation per hash function."""
    blocks = np.zeros((HASHES, 16), dtype=np.uint8)
    blocks[:, 0] = np.arange(HASHES, dtype=np.uint8)
    return [bytes(row) for row in _aes_ecb(key, blocks)]


def _reduce128(block: np.ndarray, modulus: int) -> np.ndarray:
    """``(hi * 2^64 + lo) mod modulus`` of each 16-byte row (little-endian), for ``modulus <= 2^32``."""
    words = block.view("<u8")
    m = np.uint64(modulus)
    shift = np.uint64((1 << 64) % modulus)
    # (hi mod m) * (2^64 mod m) + (lo mod m) < m^2 <= 2^64: no overflow.
    out: np.ndarray = ((words[:, 1] % m) * shift + words[:, 0] % m) % m
    return out


def bin_indexes(item_hashes: np.ndarray, key: bytes, bins: int) -> np.ndarray:
    """The 3 distinct bins, in ``[0, bins)``, of each item: ``(n, 3)`` int64.

    ``item_hashes``: ``(n, 16)`` uint8, a 128-bit hash of each item (from the caller). ``key``: 16 bytes,
    fresh and uniformly random per session, chosen independently of the items. Hash ``j`` is
    ``AES_{k_j}(h)`` with ``k_j = AES_key(j)``, its 128 bits reduced modulo ``bins - j`` (bias at most
    ``bins / 2^128`` per index) and moved past the bins of hashes ``< j``: a uniform ordered 3-subset.
    """
    if not isinstance(item_hashes, np.ndarray):
        raise TypeError("item_hashes must be a numpy array")
    if item_hashes.dtype != np.uint8 or item_hashes.ndim != 2 or item_hashes.shape[1] != 16:
        raise InvalidParameter("item_hashes must be an (n, 16) uint8 array")
    if not isinstance(key, bytes):
        raise TypeError("key must be bytes")
    if len(key) != 16:
        raise InvalidParameter("key must be 16 bytes")
    _check_bins(bins)
    data = np.ascontiguousarray(item_hashes)
    out = np.empty((data.shape[0], HASHES), dtype=np.int64)
    if data.shape[0] == 0:
        return out
    r = [_reduce128(_aes_ecb(k, data), int(bins) - j) for j, k in enumerate(_subkeys(key))]
    r1 = r[1] + (r[1] >= r[0])  # skip bin r0
    low, high = np.minimum(r[0], r1), np.maximum(r[0], r1)
    r2 = r[2] + (r[2] >= low)
    r2 += r2 >= high  # skip both
    out[:, 0], out[:, 1], out[:, 2] = r[0], r1, r2
    return out


# --------------------------------------------------------------------------------------------- insertion


def _check_indexes(indexes: np.ndarray, bins: int) -> np.ndarray:
    if not isinstance(indexes, np.ndarray):
        raise TypeError("indexes must be a numpy array")
    if indexes.ndim != 2 or indexes.shape[1] != HASHES or not np.issubdtype(indexes.dtype, np.integer):
        raise InvalidParameter("indexes must be an (n, 3) integer array")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or int(bins) < 1:
        raise InvalidParameter("bins must be a positive int")
    idx = np.ascontiguousarray(indexes, dtype=np.int64)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= int(bins)):
        raise InvalidParameter("every index must be in [0, bins)")
    return idx


def _default_rounds(n: int) -> int:
    return 64 + 8 * max(1, n.bit_length())


def _pick(masks: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A uniformly random hash number ``j`` with ``masks[j]`` True, per item (no item has none True)."""
    first = masks[0].astype(np.int64)
    second = first + masks[1]
    r = (rng.random(first.size) * (second + masks[2])).astype(np.int64)
    out: np.ndarray = (first <= r).astype(np.int64) + (second <= r)
    return out


def _walk(idx: np.ndarray, table: np.ndarray, which: np.ndarray, rounds: int) -> np.ndarray:
    """Vectorized random-walk insertion; returns the items still homeless when it stops.

    Each round every homeless item targets one of its bins: a random free one if any, else a random one
    other than the bin it was just evicted from. One contender per bin wins (numpy scatter, then a gather
    checks who stuck); a winner takes the bin and its previous occupant becomes homeless. The number of
    homeless items never increases; the walk stops when it is zero, after ``rounds`` rounds, or when it
    has not decreased for 16 rounds (2 while over 4096 items are homeless): the exact search takes over.
    """
    rng = np.random.Generator(np.random.PCG64(_WALK_SEED))
    columns = [np.ascontiguousarray(idx[:, j]) for j in range(HASHES)]
    items = np.arange(idx.shape[0], dtype=np.int64)
    barred = np.full(items.size, -1, dtype=np.int64)  # the bin each homeless item was evicted from
    claim = np.empty(table.size, dtype=np.int64)
    best, since = items.size, 0
    for _ in range(rounds):
        if items.size == 0 or since >= (_STALL_ROUNDS if items.size <= _STALL_LARGE else 2):
            break
        cand = [col[items] for col in columns]
        free = [table[c] < 0 for c in cand]
        any_free = free[0] | free[1] | free[2]
        allowed = [c != barred for c in cand]
        allowed_none = ~(allowed[0] | allowed[1] | allowed[2])
        masks = [np.where(any_free, f, a | allowed_none) for f, a in zip(free, allowed, strict=True)]
        choice = _pick(masks, rng)
        target = np.where(choice == 0, cand[0], np.where(choice == 1, cand[1], cand[2]))
        rows = np.arange(items.size, dtype=np.int64)
        claim[target] = rows
        won = claim[target] == rows
        won_bins, won_items = target[won], items[won]
        previous = table[won_bins]
        table[won_bins] = won_items
        which[won_items] = choice[won]
        out = previous >= 0
        items = np.concatenate([items[~won], previous[out]])
        barred = np.concatenate([barred[~won], won_bins[out]])
        best, since = (items.size, 0) if items.size < best else (best, since + 1)
    return items


def _augment(idx: np.ndarray, table: np.ndarray, which: np.ndarray, start: int) -> None:
    """Place ``start`` along a shortest augmenting path (BFS), or raise :class:`CuckooFailure`.

    If no augmenting path from an unplaced item exists, no placement of all items exists (Berge: the
    symmetric difference with a complete placement would contain one), so the failure is genuine.
    """
    reached: dict[int, tuple[int, int]] = {}  # bin -> (item that reached it, its hash number)
    home: dict[int, int] = {}  # item in the search tree -> the bin it occupies
    queue = deque([start])
    while queue:
        item = queue.popleft()
        for j in range(HASHES):
            b = int(idx[item, j])
            if b in reached:
                continue
            reached[b] = (item, j)
            occupant = int(table[b])
            if occupant >= 0:
                home[occupant] = b
                queue.append(occupant)
                continue
            while True:  # free bin: shift every item on the path one step
                mover, hash_no = reached[b]
                table[b] = mover
                which[mover] = hash_no
                if mover == start:
                    return
                b = home[mover]
    raise CuckooFailure(
        f"cuckoo insertion failed: {len(home) + 1} items share {len(reached)} bins (no placement exists)"
    )


def cuckoo_insert(
    indexes: np.ndarray, bins: int, max_rounds: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Place every item in one of its bins: ``(table, which)``.

    ``indexes``: ``(n, 3)`` bins of each item (from :func:`bin_indexes`; repeated bins within a row are
    allowed). ``table``: ``(bins,)`` int64, the item in each bin or -1; ``which``: ``(n,)`` int8, the hash
    function (0, 1, 2) whose bin holds each item. ``max_rounds`` bounds the vectorized random walk (default
    ``64 + 8 * bit_length(n)``); items it leaves are placed by an exact augmenting-path search.

    Raises :class:`CuckooFailure` iff no placement exists (e.g. more than 3 items with the same 3 bins, or
    duplicate items); deterministic given its inputs.
    """
    idx = _check_indexes(indexes, bins)
    if max_rounds is None:
        max_rounds = _default_rounds(idx.shape[0])
    elif isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 0:
        raise InvalidParameter("max_rounds must be a non-negative int or None")
    n = idx.shape[0]
    if n > int(bins):
        raise CuckooFailure(f"cuckoo insertion failed: {n} items cannot fit in {bins} bins")
    table = np.full(int(bins), -1, dtype=np.int64)
    which = np.full(n, -1, dtype=np.int8)
    for item in _walk(idx, table, which, max_rounds).tolist():
        _augment(idx, table, which, item)
    return table, which
