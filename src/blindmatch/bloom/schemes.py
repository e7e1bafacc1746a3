"""Hash schemes: how an item becomes the ``k`` bit positions of a Bloom filter.

Three schemes, each with a one-byte id recorded in the native file format (``docs/bloom-format.md``):

* ``token`` (id 1): items are uniform 32-byte keyed tokens (``blindmatch.tokens``). Their bytes already
  are a keyed pseudorandom function's output, so the first two little-endian 64-bit words are used as
  ``h1, h2`` directly -- no further hashing.
* ``mmh3`` (id 2): arbitrary byte strings; ``h1, h2`` are the two 64-bit halves of MurmurHash3 x64-128
  (seed 0). Not keyed: anyone can compute positions of a guess.
* ``dcso-fnv1`` (id 3): the DCSO ``dcso-v1`` scheme (64-bit FNV-1, then the multiplicative recurrence of
  DCSO/bloom and DCSO/flor), so filters read from or written to that format check the same values.

``token`` and ``mmh3`` derive the positions by *enhanced double hashing* (Dillinger and Manolios, 2004):
``f_i = (h1 + i*h2 + (i^3 - i)/6) mod m`` for ``i = 0 .. k-1``, computed by additions with a conditional
subtraction (no division in the inner loop). Plain double hashing ``h1 + i*h2`` repeats patterns when
``h2 mod m`` is small or shares factors with ``m``; the cubic term removes that, and the measured
false-positive rates match the ideal formula (``benchmarks/bench_bloom.py``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import mmh3
import numpy as np
import numpy.typing as npt

from ..errors import InvalidParameter

__all__ = [
    "DCSO_FNV1",
    "MMH3",
    "SCHEMES",
    "SCHEMES_BY_ID",
    "TOKEN",
    "HashScheme",
    "PositionCursor",
    "fnv1_64",
    "fnv1_64_many",
]

U64 = npt.NDArray[np.uint64]
_MASK64 = (1 << 64) - 1

#: FNV-1 64-bit parameters (Fowler/Noll/Vo, draft-eastlake-fnv): offset basis and prime.
FNV64_OFFSET = 14695981039346656037
FNV64_PRIME = 1099511628211
#: The DCSO recurrence: largest prime below 2^64, and the multiplier DCSO/bloom and DCSO/flor use.
DCSO_PRIME = 18446744073709551557
DCSO_MULT = 18446744073709550147

TOKEN_LEN = 32


@dataclass(frozen=True)
class HashScheme:
    """A named way of turning items into bit positions (see the module docstring)."""

    id: int
    name: str
    #: Number of 64-bit words :meth:`words` returns per item.
    width: int

    def __repr__(self) -> str:
        return f"HashScheme({self.name!r})"

    # -- hashing -------------------------------------------------------------------------------------

    def words(self, items: Sequence[bytes]) -> U64:
        """The ``(n, width)`` uint64 hash words of ``items`` (column 0 also serves as a dedupe key)."""
        n = len(items)
        if n == 0:
            return np.zeros((0, self.width), dtype=np.uint64)
        if self.id == TOKEN.id:
            # countOf compares by identity first (the small int 32, the type bytes): a pass in C
            if operator.countOf(map(len, items), TOKEN_LEN) != n:
                raise InvalidParameter(
                    f"the 'token' hash scheme takes {TOKEN_LEN}-byte keyed tokens only "
                    "(use scheme='mmh3' for arbitrary bytes)"
                )
            if operator.countOf(map(type, items), bytes) == n:
                # fromiter into fixed-width byte strings copies the 16 bytes used of each token (much
                # faster than a join); the checks above matter: "S16" would pad short items, encode str.
                head = np.fromiter(items, dtype="S16", count=n).view("<u8").reshape(n, 2)
                return head.astype(np.uint64, copy=False)
            # bytearray, memoryview (or a str, which the join refuses with TypeError)
            raw = np.frombuffer(b"".join(items), dtype="<u8").reshape(n, 4)
            return np.ascontiguousarray(raw[:, :2]).astype(np.uint64, copy=False)
        if self.id == MMH3.id:
            digests = np.fromiter(map(mmh3.mmh3_x64_128_digest, items), dtype="S16", count=n)
            return digests.view("<u8").reshape(n, 2).astype(np.uint64, copy=False)
        return fnv1_64_many(items).reshape(n, 1)

    def words_one(self, item: bytes) -> tuple[int, ...]:
        """Hash words of one item, as Python ints (the scalar fast path)."""
        if self.id == TOKEN.id:
            if len(item) != TOKEN_LEN:
                raise InvalidParameter(
                    f"the 'token' hash scheme takes {TOKEN_LEN}-byte keyed tokens only "
                    "(use scheme='mmh3' for arbitrary bytes)"
                )
            return (int.from_bytes(item[:8], "little"), int.from_bytes(item[8:16], "little"))
        if self.id == MMH3.id:
            d = mmh3.mmh3_x64_128_digest(item)
            return (int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little"))
        return (fnv1_64(item),)

    # -- positions -----------------------------------------------------------------------------------

    def positions_one(self, words: tuple[int, ...], m: int, k: int) -> list[int]:
        """The ``k`` bit positions of one item, from its hash words."""
        if self.id == DCSO_FNV1.id:
            hn = words[0] % DCSO_PRIME
            out = []
            for _ in range(k):
                hn = ((hn * DCSO_MULT) & _MASK64) % DCSO_PRIME
                out.append(hn % m)
            return out
        x, y = words[0] % m, words[1] % m
        out = [x]
        for i in range(1, k):
            x = (x + y) % m
            y = (y + i) % m
            out.append(x)
        return out

    def reduce(self, words: U64, m: int) -> U64:
        """The starting state of the position walk: ``(h1 mod m, h2 mod m)``, or DCSO's ``h mod P``."""
        if self.id == DCSO_FNV1.id:
            return _mod_p(words, _P)
        out: U64 = words % np.uint64(m)
        return out

    def cursor(self, reduced: U64, m: int) -> PositionCursor:
        """A cursor over the positions of a chunk of items (from :meth:`reduce`), one hash at a time."""
        if self.id == DCSO_FNV1.id:
            return _DcsoCursor(reduced, m)
        return _EdhCursor(reduced, m)

    def positions(self, words: U64, m: int, k: int) -> U64:
        """The ``(k, n)`` bit positions of a chunk of items (row ``i`` is hash function ``i``)."""
        return self.positions_reduced(self.reduce(words, m), m, k)

    def positions_reduced(self, reduced: U64, m: int, k: int) -> U64:
        """:meth:`positions` from already reduced words."""
        out = np.empty((k, reduced.shape[0]), dtype=np.uint64)
        cur = self.cursor(reduced, m)
        for i in range(k):
            out[i] = cur.current()
            if i + 1 < k:
                cur.advance(i)
        return out


class PositionCursor:
    """Positions of hash function ``i`` for a shrinking set of items (lets checks stop early)."""

    def current(self) -> U64:
        raise NotImplementedError

    def advance(self, i: int) -> None:
        """Move from hash function ``i`` to ``i + 1``."""
        raise NotImplementedError

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Drop the items where ``mask`` is false."""
        raise NotImplementedError


class _EdhCursor(PositionCursor):
    # Enhanced double hashing: x_0 = h1, y_0 = h2; x_{i+1} = x_i + y_i, y_{i+1} = y_i + i + 1 (mod m).
    def __init__(self, reduced: U64, m: int) -> None:
        self._m = np.uint64(m)
        self._x: U64 = reduced[:, 0].copy()
        self._y: U64 = reduced[:, 1].copy()
        self._tmp = np.empty_like(self._x)

    def current(self) -> U64:
        return self._x

    def advance(self, i: int) -> None:
        # For 0 <= v < 2m, min(v, v - m) in wrapping uint64 arithmetic is v mod m (no division).
        x, y, tmp, m = self._x, self._y, self._tmp, self._m
        x += y
        np.subtract(x, m, out=tmp)
        np.minimum(x, tmp, out=x)
        y += np.uint64(i + 1)
        np.subtract(y, m, out=tmp)
        np.minimum(y, tmp, out=y)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self._x = self._x[mask]
        self._y = self._y[mask]
        self._tmp = np.empty_like(self._x)


class _DcsoCursor(PositionCursor):
    # hn_0 = fnv mod P; hn_{i+1} = (hn_i * g mod 2^64) mod P; position i is hn_{i+1} mod m.
    def __init__(self, reduced: U64, m: int) -> None:
        self._m = np.uint64(m)
        self._hn: U64 = reduced[:, 0].copy()
        self._pos: U64 = self._hn
        self.advance(-1)

    def current(self) -> U64:
        return self._pos

    def advance(self, i: int) -> None:
        hn = self._hn
        hn *= _G  # wraps mod 2^64, as Go's uint64 arithmetic does
        self._hn = _mod_p(hn, _P)
        self._pos = self._hn % self._m

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self._hn = self._hn[mask]
        self._pos = self._pos[mask]


_P = np.uint64(DCSO_PRIME)
_G = np.uint64(DCSO_MULT)


def _mod_p(v: U64, p: np.uint64) -> U64:
    """``v mod p`` for a modulus above 2^63 (so ``v < 2p``): one conditional subtraction."""
    out: U64 = np.minimum(v, v - p)
    return out


def fnv1_64(data: bytes) -> int:
    """64-bit FNV-1 (multiply, then xor) of ``data``."""
    h = FNV64_OFFSET
    for b in data:
        h = ((h * FNV64_PRIME) & _MASK64) ^ b
    return h


def fnv1_64_many(items: Sequence[bytes]) -> U64:
    """64-bit FNV-1 of many byte strings, vectorized across items.

    Items are sorted by length (longest first) and cut into blocks of at most about 4 MiB when padded to
    the block's longest item; column ``j`` of a block updates only the leading items longer than ``j``.
    Numpy calls therefore number about (items / block) x (typical length), whatever the mix of lengths.
    """
    n = len(items)
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    if set(map(type, items)) != {bytes}:
        items = [_as_bytes(x) for x in items]
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")
    prime = np.uint64(FNV64_PRIME)
    start = 0
    while start < n:
        longest = int(lengths[order[start]])
        size = max(1, min(_FNV_BLOCK_ITEMS, _FNV_BLOCK_BYTES // max(1, longest)))
        idx = order[start : start + size]
        start += size
        if idx.size < 16:  # a few long items: a numpy call per byte would cost more than Python
            out[idx] = [fnv1_64(items[i]) for i in idx.tolist()]
            continue
        h = np.full(idx.size, FNV64_OFFSET, dtype=np.uint64)
        if longest:
            block = np.fromiter(
                (items[i] for i in idx.tolist()), dtype=f"S{longest}", count=idx.size
            )  # zero-padded to the longest; padding is never hashed (see the counts below)
            mat = block.view(np.uint8).reshape(idx.size, longest)
            # active[j] = how many of the block's items (longest first) are longer than j
            active = np.searchsorted(-lengths[idx], -np.arange(longest), side="left").tolist()
            for j, c in enumerate(active):
                hj = h[:c]
                hj *= prime
                hj ^= mat[:c, j]
        out[idx] = h
    return out


_FNV_BLOCK_ITEMS = 4096
_FNV_BLOCK_BYTES = 1 << 22


def _as_bytes(x: object) -> bytes:
    if isinstance(x, bytes | bytearray | memoryview):
        return bytes(x)
    raise TypeError(f"Bloom filter items are byte strings, not {type(x).__name__}")


TOKEN = HashScheme(1, "token", 2)
MMH3 = HashScheme(2, "mmh3", 2)
DCSO_FNV1 = HashScheme(3, "dcso-fnv1", 1)

SCHEMES: dict[str, HashScheme] = {s.name: s for s in (TOKEN, MMH3, DCSO_FNV1)}
SCHEMES_BY_ID: dict[int, HashScheme] = {s.id: s for s in (TOKEN, MMH3, DCSO_FNV1)}
