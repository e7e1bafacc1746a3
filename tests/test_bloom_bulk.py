"""Bulk insert and bulk check give exactly the bits and answers of one-by-one ``add`` and ``in``.

Both ways of setting bits in ``update`` (a scratch array of one byte per bit for large inserts, ORed masks
with retries otherwise) are forced in turn; tiny filters make repeated positions and repeated byte indices
certain, and a small chunk size puts chunk boundaries inside the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blindmatch.bloom.filter as filter_mod
from blindmatch.bloom import BloomFilter
from blindmatch.bloom.schemes import SCHEMES

PATHS = {"dense": 1 << 62, "sparse": 0}  # _DENSE_RATIO forcing one path or the other


def _one_by_one(m: int, k: int, scheme: str, items: list[bytes]) -> BloomFilter:
    bf = BloomFilter(m, k, capacity=1 << 40, fpr=0.5, scheme=scheme)
    for it in items:
        bf.add(it)
    return bf


def _reference_bits(m: int, k: int, scheme: str, items: list[bytes]) -> bytes:
    """The bit array built from scalar positions alone (Python ints, no numpy, no BloomFilter)."""
    s = SCHEMES[scheme]
    out = bytearray(8 * ((m + 63) // 64))
    for it in items:
        for p in s.positions_one(s.words_one(it), m, k):
            out[p >> 3] |= 1 << (p & 7)
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(
    scheme=st.sampled_from(sorted(SCHEMES)),
    m=st.one_of(st.integers(1, 20), st.integers(21, 300), st.integers(301, 5000)),
    k_pick=st.integers(1, 128),
    pool=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True),
    picks=st.lists(st.integers(0, 1 << 16), max_size=300),
    split=st.integers(0, 300),
    path=st.sampled_from(sorted(PATHS)),
    chunk=st.sampled_from([1, 7, 64, 1 << 14]),
)
def test_bulk_update_sets_exactly_the_bits_of_one_by_one_adds(
    scheme: str,
    m: int,
    k_pick: int,
    pool: list[bytes],
    picks: list[int],
    split: int,
    path: str,
    chunk: int,
) -> None:
    k = 1 + (k_pick - 1) % min(m, 128)
    items = [pool[p % len(pool)] for p in picks]  # repeats: equal items within and across batches
    if scheme != "token":  # any length for the byte-string schemes
        items = [it[: p % 33] for it, p in zip(items, picks, strict=True)]
    want = _one_by_one(m, k, scheme, items)
    bulk = BloomFilter(m, k, capacity=1 << 40, fpr=0.5, scheme=scheme)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(filter_mod, "_DENSE_RATIO", PATHS[path])
        mp.setattr(filter_mod, "_CHUNK", chunk)
        bulk.update(items[:split])
        bulk.update(items[split:])
        got = bulk.bit_bytes()
        assert got == want.bit_bytes() == _reference_bits(m, k, scheme, items)
        assert bulk.popcount() == want.popcount() <= m
        probes = [*pool, b"\x00" * 32, b"\xff" * 32]
        if scheme != "token":
            probes += [b"", b"a", b"other"]
        assert bulk.contains_many(probes).tolist() == [p in want for p in probes]
    assert not any(np.unpackbits(np.frombuffer(got, np.uint8), bitorder="little")[m:])  # padding stays 0


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize(("m", "k"), [(1, 1), (7, 3), (8, 8), (13, 5), (64, 7), (1003, 11), (40_001, 20)])
def test_bulk_update_matches_adds_for_fixed_shapes(m: int, k: int, path: str) -> None:
    rng = np.random.default_rng(m * 131 + k)
    raw = rng.bytes(32 * 2500)
    items = [raw[i : i + 32] for i in range(0, len(raw), 32)]
    items += items[::3]  # duplicate items, so also every one of their positions
    want = _one_by_one(m, k, "token", items)
    bulk = BloomFilter(m, k, capacity=1 << 40, fpr=0.5)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(filter_mod, "_DENSE_RATIO", PATHS[path])
        bulk.update(items)
    assert bulk.bit_bytes() == want.bit_bytes()
    assert bulk.contains_many(items).all()


def _spy(mp: pytest.MonkeyPatch, calls: list[str]) -> None:
    for name in ("_set_bits_dense", "_set_bits_sparse"):
        real: Callable[..., None] = getattr(filter_mod, name)

        def wrapped(*args: Any, _real: Callable[..., None] = real, _name: str = name) -> None:
            calls.append(_name)
            _real(*args)

        mp.setattr(filter_mod, name, wrapped)


def test_large_inserts_take_the_dense_path_and_small_ones_the_sparse_path() -> None:
    rng = np.random.default_rng(5)
    raw = rng.bytes(32 * 20_000)
    items = [raw[i : i + 32] for i in range(0, len(raw), 32)]
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        _spy(mp, calls)
        bf = BloomFilter.for_capacity(20_000, 1e-6)
        assert bf.update(items[:19_000]) == 19_000
        assert bf.update(items[19_000:19_010]) == 10
        assert calls == ["_set_bits_dense", "_set_bits_sparse"]
        big = BloomFilter(filter_mod._DENSE_MAX_BITS + 1, 3, capacity=20_000, fpr=0.5)
        big.update(items)
        assert calls[-1] == "_set_bits_sparse"  # no scratch array over 32 MiB
    assert bf.contains_many(items[:19_010]).all()
    assert big.contains_many(items).all()


def test_update_on_a_filter_with_bits_but_no_count_still_checks_presence() -> None:
    # A filter whose count is 0 but whose bits are set (e.g. loaded that way) must not skip the check.
    rng = np.random.default_rng(9)
    raw = rng.bytes(32 * 100)
    items = [raw[i : i + 32] for i in range(0, len(raw), 32)]
    bf = BloomFilter.for_capacity(1000, 1e-3)
    bf.update(items)
    empty_count = BloomFilter._from_parts(
        bf.m, bf.k, capacity=1000, fpr=1e-3, scheme="token", count=0, bits=bf._bits.copy()
    )
    assert empty_count.update(items) == 0
    assert len(empty_count) == 0
