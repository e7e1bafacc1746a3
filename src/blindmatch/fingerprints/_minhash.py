"""Vectorized MinHash signatures over 32-bit shingle hashes.

Permutation ``j`` maps a 32-bit shingle hash ``x`` to ``((a_j * x + b_j) mod 2^64) >> 32`` with ``a_j``,
``b_j`` 64-bit constants: Dietzfelbinger's multiply-add-shift scheme, which is strongly universal
(pairwise independent) for 32-bit keys and 32-bit outputs when ``a``, ``b`` are uniform 64-bit values
(M. Thorup, "High Speed Hashing for Integers and Strings", 2015, section on multiply-add-shift) -- the
same independence as the classic ``(a x + b) mod p``. numpy's ``uint64`` arithmetic wraps modulo
``2^64``, which is exactly the reduction the scheme asks for, so there is no overflow to guard against.
Since the shift is monotone, the minimum of the shifted values is the shifted minimum of the 64-bit values.

The constants are public and fixed (SHAKE-256 of a versioned label): both parties must compute the same
signatures. The first ``k`` permutations of a larger set are the permutations of a ``k``-set.

A signature is computed for many prompts at once: all shingle hashes are laid end to end, a
``(shingles, permutations)`` matrix is formed chunk by chunk and reduced per prompt with
``np.minimum.reduceat``. No Python loop runs per permutation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from ..errors import InvalidParameter

__all__ = ["MAX_PERM", "PERMUTATION_LABEL", "minhash_reference", "minhash_signatures", "permutations"]

PERMUTATION_LABEL = b"blindmatch/v1/prompt-minhash/multiply-add-shift"
MAX_PERM = 1024
_CHUNK_CELLS = 1 << 19  # matrix cells per chunk (4 MiB of uint64): stays in cache, bounds memory
_SHIFT = np.uint64(32)


@lru_cache(maxsize=8)
def _constants(num_perm: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    raw = hashlib.shake_256(PERMUTATION_LABEL).digest(16 * num_perm)
    ab = np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(num_perm, 2)
    a = np.ascontiguousarray(ab[:, 0])
    b = np.ascontiguousarray(ab[:, 1])
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b


def _check_num_perm(num_perm: int) -> None:
    if isinstance(num_perm, bool) or not isinstance(num_perm, int) or not 1 <= num_perm <= MAX_PERM:
        raise InvalidParameter(f"num_perm must be an int in 1..{MAX_PERM}")


def permutations(num_perm: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Public constants ``(a, b)`` (read-only ``uint64`` arrays) of the first ``num_perm`` permutations."""
    _check_num_perm(num_perm)
    return _constants(num_perm)


def minhash_signatures(
    hash_arrays: Sequence[npt.NDArray[np.uint32]], num_perm: int
) -> npt.NDArray[np.uint32]:
    """MinHash signatures, one row per input array of shingle hashes: shape ``(len(hash_arrays), num_perm)``.

    Every input array must be non-empty (a canonical prompt always has a shingle).
    """
    a, b = permutations(num_perm)
    n = len(hash_arrays)
    out = np.empty((n, num_perm), dtype=np.uint32)
    if n == 0:
        return out
    lengths = np.fromiter((len(h) for h in hash_arrays), dtype=np.int64, count=n)
    if int(lengths.min()) == 0:
        raise InvalidParameter("every prompt needs at least one shingle hash")
    per_chunk = max(1, _CHUNK_CELLS // num_perm)
    start = 0
    while start < n:
        # Take whole prompts until the chunk holds about per_chunk shingles (at least one prompt).
        stop = start + 1
        total = int(lengths[start])
        while stop < n and total + int(lengths[stop]) <= per_chunk:
            total += int(lengths[stop])
            stop += 1
        x = np.concatenate(hash_arrays[start:stop]).astype(np.uint64)
        cells = np.multiply.outer(x, a)
        cells += b
        offsets = np.zeros(stop - start, dtype=np.int64)
        np.cumsum(lengths[start : stop - 1], out=offsets[1:])
        mins = np.minimum.reduceat(cells, offsets, axis=0)
        out[start:stop] = (mins >> _SHIFT).astype(np.uint32)
        start = stop
    return out


def minhash_reference(hashes: Sequence[int], num_perm: int) -> list[int]:
    """Slow, obviously correct signature of one shingle-hash list (Python ints): for tests only."""
    a, b = permutations(num_perm)
    mask = (1 << 64) - 1
    pairs = zip(a.tolist(), b.tolist(), strict=True)
    return [min(((aj * int(x) + bj) & mask) >> 32 for x in hashes) for aj, bj in pairs]
