"""Bit matrices as numpy ``uint8`` arrays, and a fast transpose (64x64 blocks, delta swaps).

A bit matrix with ``R`` rows and ``C`` columns is an array of shape ``(R, C // 8)``: bit ``c`` of row ``r``
is ``(a[r, c // 8] >> (c % 8)) & 1`` (least significant bit first within each byte, numpy's
``bitorder="little"``). Read as little-endian 64-bit words, bit ``c`` of a row is then bit ``c % 64`` of word
``c // 64``, which is what the blocked transpose works on.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParameter

__all__ = ["pad_rows", "transpose_bits"]

_U64 = np.dtype("<u8")
# (shift, mask): the delta swaps that transpose a 64x64 block of words (word r = row r, bit c = column c)
_STEPS = tuple(
    (j, np.uint64(mask))
    for j, mask in (
        (32, 0x00000000FFFFFFFF),
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    )
)


def pad_rows(matrix: np.ndarray, rows: int) -> np.ndarray:
    """``matrix`` with zero rows appended up to ``rows`` rows (the array itself when it has that many)."""
    if matrix.shape[0] == rows:
        return matrix
    out = np.zeros((rows, matrix.shape[1]), dtype=np.uint8)
    out[: matrix.shape[0]] = matrix
    return out


def _check(matrix: np.ndarray) -> None:
    if not isinstance(matrix, np.ndarray) or matrix.dtype != np.uint8 or matrix.ndim != 2:
        raise InvalidParameter("a bit matrix is a 2-dimensional uint8 array")


def _transpose_blocks(words: np.ndarray) -> None:
    """Transpose, in place, every 64x64 block of ``words``, shape ``(64, blocks)``: ``words[r, b]`` is word
    (row) ``r`` of block ``b`` (so each swap step works on long contiguous runs)."""
    n = words.shape[1]
    scratch = np.empty(32 * n, dtype=_U64)
    for j, mask in _STEPS:
        pairs = words.reshape(64 // (2 * j), 2, j, n)
        lo, hi = pairs[:, 0], pairs[:, 1]
        t = scratch.reshape(lo.shape)
        np.right_shift(lo, np.uint64(j), out=t)
        t ^= hi
        t &= mask
        hi ^= t
        t <<= np.uint64(j)
        lo ^= t


def transpose_bits(matrix: np.ndarray) -> np.ndarray:
    """The transpose of a bit matrix: ``(R, C // 8)`` in, ``(C, ceil(R / 8))`` out (bit order as above).

    Rows and columns are padded with zeros to multiples of 64 internally; the padding never reaches the
    output except as zero bits in the last byte of each row when ``R`` is not a multiple of 8.
    """
    _check(matrix)
    r, cbytes = matrix.shape
    c = 8 * cbytes
    rp, cp = -(-r // 64) * 64, -(-c // 64) * 64
    if rp == 0 or cp == 0:
        return np.zeros((c, -(-r // 8)), dtype=np.uint8)
    if (rp, cp) == (r, c) and matrix.flags.c_contiguous:
        words = matrix.view(_U64)
    else:
        padded = np.zeros((rp, cp // 8), dtype=np.uint8)
        padded[:r, :cbytes] = matrix
        words = padded.view(_U64)
    rb, cb = rp // 64, cp // 64
    blocks = words.reshape(rb, 64, cb).transpose(1, 0, 2).copy(order="C")
    _transpose_blocks(blocks.reshape(64, rb * cb))
    # out[cb * 64 + c, rb] = block (rb, cb), word c
    out = np.ascontiguousarray(blocks.transpose(2, 0, 1)).view(np.uint8).reshape(cp, rp // 8)
    if (rp, cp) == (r, c):
        return out
    return np.ascontiguousarray(out[:c, : -(-r // 8)])
