"""A vectorized Bloom filter over byte strings.

Bulk operations (:meth:`BloomFilter.update`, :meth:`BloomFilter.contains_many`) hash a whole batch with
numpy and walk the ``k`` hash functions as vector operations over chunks of items; checks drop an item at
its first unset bit. A large insert (at least ``m / 64`` positions, ``m`` up to 2^25) sets bits by fancy
assignment of ``True`` into a scratch array of one byte per bit -- duplicate positions are harmless --
then packs it and ORs it into the bits; other inserts OR masks into the bytes and repeat for the bits that
a duplicate byte index made them lose. Single-item operations (``add``, ``in``) take a pure-Python path.
The bits live in one numpy ``uint8`` array (bit ``p`` is bit ``p % 8`` of byte ``p // 8``, the layout of
DCSO's little-endian 64-bit words), padded to a multiple of 8 bytes; a ``bitarray`` view over the same
buffer counts bits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from bitarray import bitarray

from ..errors import CapacityError, InvalidParameter
from ..tokens import TokenBatch
from .metadata import FilterMetadata
from .schemes import SCHEMES, HashScheme

if TYPE_CHECKING:
    from os import PathLike

__all__ = ["MAX_BITS", "MAX_K", "BloomFilter", "optimal_parameters"]

#: Largest filter accepted (bits): 2^40 bits is 128 GiB.
MAX_BITS = 1 << 40
#: Most hash functions accepted (fpr 1e-30 needs 100).
MAX_K = 128
_CHUNK = 1 << 15
#: Largest filter (bits) whose bulk inserts may use a scratch array of one byte per bit (32 MiB).
_DENSE_MAX_BITS = 1 << 25
#: Bulk inserts of at least ``m / _DENSE_RATIO`` positions use the scratch array (its O(m) cost is small
#: next to theirs).
_DENSE_RATIO = 64
_LUT = np.array([1 << j for j in range(8)], dtype=np.uint8)
_U3 = np.uint64(3)
_U7 = np.uint64(7)


def optimal_parameters(n: int, fpr: float) -> tuple[int, int]:
    """``(m, k)`` minimizing the false-positive rate of ``n`` items: ``m = ceil(-n ln p / ln^2 2)``,
    ``k = max(1, round(m / n * ln 2))``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidParameter("capacity must be a positive integer")
    if not isinstance(fpr, float | int) or not 0.0 < fpr < 1.0:
        raise InvalidParameter("fpr must be strictly between 0 and 1")
    m = math.ceil(-n * math.log(fpr) / (math.log(2) ** 2))
    k = max(1, round(m / n * math.log(2)))
    return m, k


def _nbytes(m: int) -> int:
    return 8 * ((m + 63) // 64)


class BloomFilter:
    """A Bloom filter with ``m`` bits and ``k`` hash functions, sized for ``capacity`` items.

    ``scheme`` says how items become bit positions (:mod:`blindmatch.bloom.schemes`): ``"token"``
    (default) for 32-byte keyed tokens, ``"mmh3"`` for arbitrary bytes, ``"dcso-fnv1"`` for DCSO
    compatibility. ``len()`` counts the distinct items inserted (an item already reported present when
    added is not counted again). Inserting more than ``capacity`` items raises :class:`CapacityError`
    unless ``allow_overfill=True``.
    """

    __slots__ = (
        "_allow_overfill",
        "_bits",
        "_capacity",
        "_count",
        "_fpr",
        "_k",
        "_m",
        "_scheme",
        "_view",
        "metadata",
    )

    def __init__(
        self,
        m: int,
        k: int,
        *,
        capacity: int,
        fpr: float,
        scheme: str = "token",
        allow_overfill: bool = False,
        metadata: FilterMetadata | None = None,
    ) -> None:
        _check_shape(m, k)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity < 2**63:
            raise InvalidParameter("capacity must be a positive integer")
        if not isinstance(fpr, float | int) or not 0.0 < fpr < 1.0:
            raise InvalidParameter("fpr must be strictly between 0 and 1")
        if scheme not in SCHEMES:
            raise InvalidParameter(f"scheme must be one of {', '.join(SCHEMES)}")
        self._m = m
        self._k = k
        self._capacity = capacity
        self._fpr = float(fpr)
        self._scheme: HashScheme = SCHEMES[scheme]
        self._allow_overfill = bool(allow_overfill)
        self._count = 0
        self._bits = np.zeros(_nbytes(m), dtype=np.uint8)
        self._view = bitarray(buffer=self._bits, endian="little")
        self.metadata = metadata if metadata is not None else FilterMetadata()

    @classmethod
    def for_capacity(
        cls,
        n: int,
        fpr: float,
        *,
        scheme: str = "token",
        allow_overfill: bool = False,
        metadata: FilterMetadata | None = None,
    ) -> BloomFilter:
        """A filter for ``n`` items at false-positive rate ``fpr``, with optimal ``m`` and ``k``."""
        m, k = optimal_parameters(n, fpr)
        return cls(m, k, capacity=n, fpr=fpr, scheme=scheme, allow_overfill=allow_overfill, metadata=metadata)

    @classmethod
    def _from_parts(
        cls,
        m: int,
        k: int,
        *,
        capacity: int,
        fpr: float,
        scheme: str,
        count: int,
        bits: npt.NDArray[np.uint8],
        allow_overfill: bool = False,
        metadata: FilterMetadata | None = None,
    ) -> BloomFilter:
        """Build from parsed parts (the loaders validate before calling); ``bits`` is taken over."""
        self = cls.__new__(cls)
        self._m, self._k, self._capacity, self._fpr = m, k, capacity, float(fpr)
        self._scheme = SCHEMES[scheme]
        self._allow_overfill = allow_overfill
        self._count = count
        self._bits = bits
        self._view = bitarray(buffer=bits, endian="little")
        self.metadata = metadata if metadata is not None else FilterMetadata()
        return self

    # -- parameters -------------------------------------------------------------------------------

    @property
    def m(self) -> int:
        """Number of bits."""
        return self._m

    @property
    def k(self) -> int:
        """Number of hash functions (bit positions per item)."""
        return self._k

    @property
    def capacity(self) -> int:
        """Number of items the filter was sized for."""
        return self._capacity

    @property
    def fpr(self) -> float:
        """The false-positive rate the filter was sized for (at capacity)."""
        return self._fpr

    @property
    def scheme(self) -> str:
        """Name of the hash scheme (``token``, ``mmh3`` or ``dcso-fnv1``)."""
        return self._scheme.name

    @property
    def allow_overfill(self) -> bool:
        """Whether inserts past :attr:`capacity` are allowed (settable, e.g. on a loaded filter)."""
        return self._allow_overfill

    @allow_overfill.setter
    def allow_overfill(self, value: bool) -> None:
        self._allow_overfill = bool(value)

    @property
    def nbytes(self) -> int:
        """Bytes of the bit array (``m / 8`` rounded up to 8 bytes)."""
        return int(self._bits.nbytes)

    def bit_bytes(self) -> bytes:
        """A copy of the bit array (little-endian bit order, padded to a multiple of 8 bytes)."""
        return self._bits.tobytes()

    def __repr__(self) -> str:
        return (
            f"BloomFilter(m={self._m}, k={self._k}, capacity={self._capacity}, fpr={self._fpr!r}, "
            f"scheme={self.scheme!r}, count={self._count})"
        )

    # -- statistics -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    def popcount(self) -> int:
        """Number of bits set."""
        return int(self._view.count(1, 0, self._m))

    @property
    def fill_ratio(self) -> float:
        """Fraction of the ``m`` bits that are set."""
        return self.popcount() / self._m

    def estimated_count(self) -> float:
        """Items estimated from the bits set (Swamidass and Baldi): ``-m/k * ln(1 - X/m)``."""
        x = self.popcount()
        if x >= self._m:
            return math.inf
        return -self._m / self._k * math.log1p(-x / self._m)

    def expected_fpr(self) -> float:
        """Chance that an item never inserted tests present, given the bits set now: ``fill_ratio**k``."""
        return float(self.fill_ratio**self._k)

    # -- insertion --------------------------------------------------------------------------------

    def add(self, item: bytes) -> bool:
        """Insert one item; return whether it was new (not already reported present)."""
        pos = self._scheme.positions_one(self._scheme.words_one(bytes(item)), self._m, self._k)
        bits = self._bits
        if all(bits[p >> 3] & (1 << (p & 7)) for p in pos):
            return False
        if not self._allow_overfill and self._count + 1 > self._capacity:
            raise CapacityError(
                f"Bloom filter is at capacity ({self._capacity} items); create a larger one or "
                "pass allow_overfill=True"
            )
        for p in pos:
            bits[p >> 3] |= 1 << (p & 7)
        self._count += 1
        return True

    def update(self, items: Iterable[bytes]) -> int:
        """Insert many items; return how many were new. All or nothing when capacity would be exceeded.

        An item counts as new when it was not reported present before this call; equal items within
        the batch count once.
        """
        words = self._scheme.words(_as_sequence(items))
        if words.shape[0] == 0:
            return 0
        reduced = self._scheme.reduce(words, self._m)
        if self._count == 0 and not self._bits.any():  # nothing can be present: skip the check
            fresh, keys = reduced, words[:, 0]
        else:
            absent = ~self._contains_reduced(reduced)
            fresh, keys = reduced[absent], words[absent, 0]
        new = _distinct(keys)
        if not self._allow_overfill and self._count + new > self._capacity:
            raise CapacityError(
                f"inserting {new} new items would exceed the capacity of {self._capacity} "
                f"(holding {self._count}); create a larger filter or pass allow_overfill=True"
            )
        if fresh.shape[0] * self._k * _DENSE_RATIO >= self._m and self._m <= _DENSE_MAX_BITS:
            _set_bits_dense(self._bits, fresh, self._m, self._k, self._scheme)
        else:
            _set_bits_sparse(self._bits, fresh, self._m, self._k, self._scheme)
        self._count += new
        return new

    # -- membership -------------------------------------------------------------------------------

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, bytes | bytearray | memoryview):
            raise TypeError("Bloom filter items are byte strings")
        pos = self._scheme.positions_one(self._scheme.words_one(bytes(item)), self._m, self._k)
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in pos)

    def contains_many(self, items: Iterable[bytes]) -> npt.NDArray[np.bool_]:
        """Membership of many items at once, as a numpy bool array in input order.

        ``True`` means "probably present" (false positives happen at :meth:`expected_fpr`), ``False``
        means "certainly absent".
        """
        words = self._scheme.words(_as_sequence(items))
        return self._contains_reduced(self._scheme.reduce(words, self._m))

    def _contains_reduced(self, reduced: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        n = reduced.shape[0]
        out = np.zeros(n, dtype=np.bool_)
        bits, m, k = self._bits, self._m, self._k
        for start in range(0, n, _CHUNK):
            chunk = reduced[start : start + _CHUNK]
            alive: npt.NDArray[np.intp] | None = None  # None: every item of the chunk so far
            cur = self._scheme.cursor(chunk, m)
            for i in range(k):
                pos = cur.current()
                byte = bits.take((pos >> _U3).view(np.intp))
                hit = (byte & _LUT.take((pos & _U7).view(np.intp))).astype(np.bool_)
                if not hit.all():
                    alive = np.flatnonzero(hit) + start if alive is None else alive[hit]
                    if alive.size == 0:
                        break
                    cur.keep(hit)
                if i + 1 < k:
                    cur.advance(i)
            if alive is None:
                out[start : start + chunk.shape[0]] = True
            else:
                out[alive] = True
        return out

    # -- combining --------------------------------------------------------------------------------

    def _check_compatible(self, other: object) -> BloomFilter:
        if not isinstance(other, BloomFilter):
            raise InvalidParameter("can only combine a BloomFilter with another BloomFilter")
        mine = (self._m, self._k, self._capacity, self._fpr, self.scheme)
        theirs = (other._m, other._k, other._capacity, other._fpr, other.scheme)
        if mine != theirs:
            raise InvalidParameter(
                "filters differ in parameters (m, k, capacity, fpr, scheme): "
                f"{mine} vs {theirs}; only filters made with the same parameters can be combined"
            )
        a, b = self.metadata, other.metadata
        for label, x, y in (
            ("key id", a.key_id, b.key_id),
            ("canon version", a.canon_version, b.canon_version),
            ("algorithm", a.algorithm, b.algorithm),
            ("context", a.context, b.context),
        ):
            if x is not None and y is not None and x != y:
                raise InvalidParameter(f"filters differ in {label}; their bits mean different things")
        return other

    def union(self, other: BloomFilter) -> BloomFilter:
        """A new filter holding the items of both (same parameters only, else :class:`InvalidParameter`).

        Its ``len()`` is estimated from the bits, kept between the larger count and the sum of both.
        """
        out = self.copy()
        out |= other
        return out

    def __or__(self, other: BloomFilter) -> BloomFilter:
        return self.union(other)

    def __ior__(self, other: BloomFilter) -> BloomFilter:
        other = self._check_compatible(other)
        merged = np.bitwise_or(self._bits, other._bits)
        x = int(bitarray(buffer=merged, endian="little").count(1, 0, self._m))
        est = math.inf if x >= self._m else -self._m / self._k * math.log1p(-x / self._m)
        lo, hi = max(self._count, other._count), self._count + other._count
        count = max(lo, min(hi, math.ceil(est) if math.isfinite(est) else hi))
        if not self._allow_overfill and count > self._capacity:
            raise CapacityError(
                f"the union holds about {count} items, more than the capacity of {self._capacity}; "
                "pass allow_overfill=True to allow it"
            )
        self._bits[:] = merged
        self._count = count
        kinds = tuple(dict.fromkeys(self.metadata.kinds + other.metadata.kinds))
        if kinds != self.metadata.kinds:
            self.metadata = replace(self.metadata, kinds=kinds)
        return self

    def copy(self) -> BloomFilter:
        return BloomFilter._from_parts(
            self._m,
            self._k,
            capacity=self._capacity,
            fpr=self._fpr,
            scheme=self.scheme,
            count=self._count,
            bits=self._bits.copy(),
            allow_overfill=self._allow_overfill,
            metadata=self.metadata,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return (
            (self._m, self._k, self._capacity, self._fpr, self.scheme, self._count)
            == (other._m, other._k, other._capacity, other._fpr, other.scheme, other._count)
            and self.metadata == other.metadata
            and bool(np.array_equal(self._bits, other._bits))
        )

    __hash__ = None  # type: ignore[assignment]

    # -- files (native format; see blindmatch.bloom.native) ---------------------------------------

    def to_bytes(self, *, compress: bool = False) -> bytes:
        """Serialize in the native format (``docs/bloom-format.md``), optionally gzip-compressed."""
        from .native import dumps

        return dumps(self, compress=compress)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int | None = None) -> BloomFilter:
        """Parse the native format (gzip detected); hostile input raises :class:`MalformedFile`."""
        from .native import loads

        return loads(data, max_bytes=max_bytes)

    def save(self, path: str | PathLike[str], *, compress: bool | None = None) -> None:
        """Write the native format to ``path`` (gzip when ``compress``, default: path ends in ``.gz``)."""
        from .native import save

        save(self, path, compress=compress)

    @classmethod
    def load(cls, path: str | PathLike[str], *, max_bytes: int | None = None) -> BloomFilter:
        from .native import load

        return load(path, max_bytes=max_bytes)


def _check_shape(m: int, k: int) -> None:
    if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= MAX_BITS:
        raise InvalidParameter(f"m must be an integer in 1..{MAX_BITS}")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= min(MAX_K, m):
        raise InvalidParameter(f"k must be an integer in 1..{MAX_K} and at most m")


def _set_bits_dense(
    bits: npt.NDArray[np.uint8], reduced: npt.NDArray[np.uint64], m: int, k: int, scheme: HashScheme
) -> None:
    """Set the positions of ``reduced`` items through a scratch array of one byte per bit.

    Assigning ``True`` at positions is exact even when positions repeat (unlike ``bits[i] |= mask``,
    where a repeated byte index keeps only one of the ORs); the scratch is then packed in the bit layout
    (bit ``p`` is bit ``p % 8`` of byte ``p // 8``) and ORed into ``bits``. Costs ``m`` bytes of memory.
    """
    scratch = np.zeros(m, dtype=np.bool_)
    for start in range(0, reduced.shape[0], _CHUNK):
        cur = scheme.cursor(reduced[start : start + _CHUNK], m)
        for i in range(k):
            scratch[cur.current().view(np.intp)] = True
            if i + 1 < k:
                cur.advance(i)
    packed = np.packbits(scratch, bitorder="little")
    head = bits[: packed.shape[0]]
    np.bitwise_or(head, packed, out=head)


def _set_bits_sparse(
    bits: npt.NDArray[np.uint8], reduced: npt.NDArray[np.uint64], m: int, k: int, scheme: HashScheme
) -> None:
    """Set the positions of ``reduced`` items by ORing masks into the bytes, ``_CHUNK`` positions at a time.

    ``bits[idx] = bits[idx] | mask`` reads all bytes before writing any, so where ``idx`` repeats only
    one of the writes survives (each write keeps every bit set before). The positions whose bit is still
    unset are ORed again, until none is: each retry sets at least one more bit of every byte it writes,
    so at most 8 retries follow the first pass.
    """
    step = max(1, _CHUNK // k)
    for start in range(0, reduced.shape[0], step):
        pos = scheme.positions_reduced(reduced[start : start + step], m, k).ravel()
        idx = (pos >> _U3).view(np.intp)
        mask = _LUT.take((pos & _U7).view(np.intp))
        while idx.size:
            bits[idx] = bits.take(idx) | mask
            lost = (bits.take(idx) & mask) == 0
            idx, mask = idx[lost], mask[lost]


def _distinct(keys: npt.NDArray[np.uint64]) -> int:
    """Number of distinct values (a sort and a comparison: faster than ``np.unique``)."""
    if keys.size == 0:
        return 0
    s = np.sort(keys)
    return int(np.count_nonzero(s[1:] != s[:-1])) + 1


def _as_sequence(items: Iterable[bytes]) -> Sequence[bytes]:
    if isinstance(items, bytes | bytearray | memoryview | str):
        raise TypeError("items must be an iterable of byte strings, not a single value")
    if isinstance(items, list | tuple):
        return items
    if isinstance(items, TokenBatch):
        return items.tokens
    if isinstance(items, Sequence):
        return list(items)
    return list(items)
