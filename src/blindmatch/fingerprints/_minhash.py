"""Vectorized MinHash signatures over 32-bit shingle hashes.

Permutation ``j`` maps a 32-bit shingle hash ``x`` to ``((a_j * x + b_j) mod 2^64) >> 32`` with ``a_j``,
``b_j`` 64-bit constants: Dietzfelbinger's multiply-add-shift scheme, which is strongly universal
(pairwise independent) for 32-bit keys and 32-bit outputs when ``a``, ``b`` are uniform 64-bit values
(M. Thorup, "High Speed Hashing for Integers and Strings", 2015, section on multiply-add-shift) -- the
same independence as the classic ``(a x + b) mod p``. numpy's ``uint64`` arithmetic wraps modulo
``2^64``, which is exactly the reduction the scheme asks for, so there is no overflow to guard against.
Since the shift is monotone, the minimum of the shifted values is the shifted minimum of the 64-bit values.
Pairwise independence is not min-wise independence: the accuracy of the similarity estimates is measured
(``benchmarks/bench_prompts.py``: errors the size sampling explains), not proven.

The constants are public and fixed (SHAKE-256 of a versioned label): both parties must compute the same
signatures. The first ``k`` permutations of a larger set are the permutations of a ``k``-set.

Each prompt's signature is the row minimum of one ``(permutations, shingles)`` matrix (``np.multiply.outer``
then an in-place add): no Python loop runs per permutation or per shingle. (Laying many prompts end to end
and reducing with ``np.minimum.reduceat`` was measured and is several times slower.)
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
_CHUNK_SHINGLES = 8192  # shingles per matrix: 8 MiB of uint64 at 128 permutations
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
    b_col = b[:, None]
    out = np.empty((len(hash_arrays), num_perm), dtype=np.uint32)
    acc = np.empty(num_perm, dtype=np.uint64)
    for i, hashes in enumerate(hash_arrays):
        if not isinstance(hashes, np.ndarray) or hashes.dtype != np.uint32 or hashes.ndim != 1:
            raise InvalidParameter("shingle hashes must be one-dimensional uint32 arrays")
        n = len(hashes)
        if n == 0:
            raise InvalidParameter("every prompt needs at least one shingle hash")
        x = hashes.astype(np.uint64)
        # One (num_perm, shingles) matrix per chunk of shingles; the chunk bounds memory for huge prompts.
        for start in range(0, n, _CHUNK_SHINGLES):
            cells = np.multiply.outer(a, x[start : start + _CHUNK_SHINGLES])
            cells += b_col
            if start == 0:
                cells.min(axis=1, out=acc)
            else:
                np.minimum(acc, cells.min(axis=1), out=acc)
        out[i] = acc >> _SHIFT
    return out


def minhash_reference(hashes: Sequence[int], num_perm: int) -> list[int]:
    """Slow, obviously correct signature of one shingle-hash list (Python ints): for tests only."""
    a, b = permutations(num_perm)
    mask = (1 << 64) - 1
    pairs = zip(a.tolist(), b.tolist(), strict=True)
    return [min(((aj * int(x) + bj) & mask) >> 32 for x in hashes) for aj, bj in pairs]
