"""BloomFilter: sizing, membership against Python sets, capacity, union, statistics, FPR."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from bloom_helpers import tokens
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.bloom import BloomFilter, FilterMetadata, optimal_parameters
from blindmatch.bloom.schemes import MMH3, TOKEN, fnv1_64, fnv1_64_many
from blindmatch.errors import CapacityError, InvalidParameter


def test_optimal_parameters_match_the_formulas() -> None:
    m, k = optimal_parameters(1_000_000, 1e-6)
    assert m == math.ceil(1_000_000 * math.log(1e6) / math.log(2) ** 2) == 28_755_176
    assert k == 20
    assert optimal_parameters(1, 0.5) == (2, 1)
    for bad in [(0, 0.1), (10, 0.0), (10, 1.0), (10, -1.0), (1.5, 0.1)]:
        with pytest.raises(InvalidParameter):
            optimal_parameters(*bad)  # type: ignore[arg-type]


def test_memory_is_m_over_8() -> None:
    bf = BloomFilter.for_capacity(100_000, 1e-6)
    assert bf.nbytes == 8 * math.ceil(bf.m / 64)
    assert bf.nbytes <= bf.m / 8 * 1.01


@pytest.mark.parametrize("scheme", ["token", "mmh3", "dcso-fnv1"])
def test_no_false_negatives_and_bulk_agrees_with_single(scheme: str) -> None:
    items = tokens(3000)
    bf = BloomFilter.for_capacity(3000, 1e-3, scheme=scheme)
    assert bf.update(items[:2000]) == 2000
    for it in items[2000:2500]:
        assert bf.add(it)
    assert len(bf) == 2500
    assert bf.contains_many(items[:2500]).all()
    probe = items[2500:]
    bulk = bf.contains_many(probe)
    assert bulk.dtype == np.bool_ and bulk.shape == (500,)
    assert bulk.tolist() == [p in bf for p in probe]
    assert bulk.sum() <= 10  # fpr 1e-3 on 500 probes: expected 0.4


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.binary(min_size=0, max_size=40), max_size=60),
    st.lists(st.binary(min_size=0, max_size=40), max_size=60),
)
def test_mmh3_filter_against_python_set(inserted: list[bytes], probed: list[bytes]) -> None:
    bf = BloomFilter.for_capacity(200, 1e-9, scheme="mmh3")
    new = bf.update(inserted)
    assert new == len(set(inserted)) == len(bf)
    got = bf.contains_many(probed + inserted)
    assert got[len(probed) :].all()
    # at fpr 1e-9 a false positive among <= 60 probes would be a one-in-ten-million event
    assert got[: len(probed)].tolist() == [p in set(inserted) for p in probed]
    assert bf.update(inserted) == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 500), max_size=200), st.lists(st.integers(0, 500), max_size=200))
def test_token_filter_against_python_set(a: list[int], b: list[int]) -> None:
    pool = tokens(501, "pool")
    bf = BloomFilter.for_capacity(600, 1e-9)
    bf.update([pool[i] for i in a])
    assert len(bf) == len(set(a))
    got = bf.contains_many([pool[i] for i in b])
    assert got.tolist() == [i in set(a) for i in b]


def test_count_counts_distinct_items_and_add_reports_new() -> None:
    items = tokens(10)
    bf = BloomFilter.for_capacity(100, 1e-6)
    assert bf.update(items + items[:5]) == 10
    assert len(bf) == 10
    assert not bf.add(items[3])
    assert bf.update(items) == 0
    assert len(bf) == 10


def test_token_scheme_rejects_non_tokens() -> None:
    bf = BloomFilter.for_capacity(10, 1e-3)
    with pytest.raises(InvalidParameter, match="32-byte"):
        bf.update([b"short"])
    with pytest.raises(InvalidParameter, match="32-byte"):
        bf.add(b"x" * 31)
    with pytest.raises(TypeError):
        bf.update(b"x" * 32)  # a single value, not a batch
    with pytest.raises(TypeError):
        bf.update(["x" * 32])  # str, not bytes
    with pytest.raises(TypeError):
        BloomFilter.for_capacity(10, 1e-3, scheme="mmh3").update(["abc"])
    assert bf.update([bytearray(b"y" * 32), memoryview(b"z" * 32)]) == 2
    assert bf.contains_many([b"y" * 32, b"z" * 32, b"w" * 32]).tolist() == [True, True, False]
    assert bytearray(b"y" * 32) in bf
    with pytest.raises(InvalidParameter):
        assert b"x" not in bf
    with pytest.raises(TypeError):
        assert "text" not in bf
    assert len(bf) == 2


def test_capacity_error_is_all_or_nothing_and_overfill_opt_in() -> None:
    items = tokens(12)
    bf = BloomFilter.for_capacity(10, 1e-3)
    bf.update(items[:8])
    before = bf.bit_bytes()
    with pytest.raises(CapacityError, match="capacity"):
        bf.update(items[8:])  # 4 new > 2 free
    assert bf.bit_bytes() == before and len(bf) == 8
    bf.update(items[8:10])
    with pytest.raises(CapacityError):
        bf.add(items[10])
    assert bf.update(items[:10]) == 0  # re-inserting held items is not an overflow
    over = BloomFilter.for_capacity(10, 1e-3, allow_overfill=True)
    assert over.update(items) == 12 and len(over) == 12
    bf.allow_overfill = True
    assert bf.add(items[10]) and len(bf) == 11


def test_union() -> None:
    a_items, b_items = tokens(300, "a"), tokens(300, "b")
    a = BloomFilter.for_capacity(1000, 1e-6)
    b = BloomFilter.for_capacity(1000, 1e-6)
    a.update(a_items)
    b.update(b_items + a_items[:100])
    u = a | b
    assert u.contains_many(a_items + b_items).all()
    assert 400 <= len(u) <= 700 and abs(len(u) - 600) <= 12  # 600 distinct items
    assert len(a) == 300  # operands unchanged
    assert u == a.union(b)
    a |= b
    assert a == u
    for other in (
        BloomFilter.for_capacity(1001, 1e-6),
        BloomFilter.for_capacity(1000, 1e-5),
        BloomFilter.for_capacity(1000, 1e-6, scheme="mmh3"),
    ):
        with pytest.raises(InvalidParameter, match="same parameters"):
            u | other
    with pytest.raises(InvalidParameter):
        u | 3  # type: ignore[operator]
    ka = BloomFilter.for_capacity(10, 1e-3, metadata=FilterMetadata(key_id="00" * 8))
    kb = BloomFilter.for_capacity(10, 1e-3, metadata=FilterMetadata(key_id="11" * 8))
    with pytest.raises(InvalidParameter, match="key id"):
        ka | kb


def test_union_capacity() -> None:
    a = BloomFilter.for_capacity(100, 1e-3)
    b = BloomFilter.for_capacity(100, 1e-3)
    a.update(tokens(80, "a"))
    b.update(tokens(80, "b"))
    with pytest.raises(CapacityError):
        a | b


def test_statistics() -> None:
    bf = BloomFilter.for_capacity(20_000, 1e-3)
    assert bf.fill_ratio == 0 and bf.expected_fpr() == 0 and bf.estimated_count() == 0
    bf.update(tokens(20_000))
    assert 0.45 < bf.fill_ratio < 0.55  # an optimally sized filter is half full at capacity
    assert abs(bf.estimated_count() - 20_000) < 20_000 * 0.02
    assert 0.5e-3 < bf.expected_fpr() < 1.5e-3
    assert bf.popcount() == round(bf.fill_ratio * bf.m)


@pytest.mark.parametrize(("scheme", "target"), [("token", 1e-2), ("token", 1e-3), ("mmh3", 1e-2)])
def test_false_positive_rate_at_capacity(scheme: str, target: float) -> None:
    """Deterministic data; the bounds hold for any seed except with chance below 1e-8.

    Given the bits, each non-member is a false positive independently with chance f = fill**k (ideal
    hashing), so the count is Binomial(N, f): we allow 6 standard deviations around N*f, and require f
    itself within 0.5x-1.5x of the target.
    """
    n = 20_000
    bf = BloomFilter.for_capacity(n, target, scheme=scheme)
    bf.update(tokens(n, "member"))
    f = bf.expected_fpr()
    assert 0.5 * target <= f <= 1.5 * target
    probes = 200_000
    fp = int(bf.contains_many(tokens(probes, "probe")).sum())
    mean = probes * f
    assert abs(fp - mean) <= 6 * math.sqrt(mean) + 1
    assert 0.5 * target <= fp / probes <= 1.5 * target


def test_enhanced_double_hashing_positions() -> None:
    """Positions are h1 + i*h2 + (i^3 - i)/6 mod m, with h1, h2 the token's first two LE words."""
    tok = bytes(range(32))
    h1 = int.from_bytes(tok[:8], "little")
    h2 = int.from_bytes(tok[8:16], "little")
    m, k = 1_000_003, 25
    want = [(h1 + i * h2 + (i**3 - i) // 6) % m for i in range(k)]
    assert TOKEN.positions_one(TOKEN.words_one(tok), m, k) == want
    assert TOKEN.positions(TOKEN.words([tok]), m, k)[:, 0].tolist() == want
    assert MMH3.positions(MMH3.words([b"abc"]), 97, 90)[:, 0].tolist() == MMH3.positions_one(
        MMH3.words_one(b"abc"), 97, 90
    )


def test_constructor_validation() -> None:
    with pytest.raises(InvalidParameter):
        BloomFilter(0, 1, capacity=1, fpr=0.1)
    with pytest.raises(InvalidParameter):
        BloomFilter(10, 11, capacity=1, fpr=0.1)
    with pytest.raises(InvalidParameter):
        BloomFilter(10, 1, capacity=1, fpr=0.1, scheme="md5")
    with pytest.raises(InvalidParameter):
        BloomFilter(2**41, 1, capacity=1, fpr=0.1)
    with pytest.raises(InvalidParameter):
        FilterMetadata(key_id="not hex")
    assert "count=0" in repr(BloomFilter(64, 2, capacity=5, fpr=0.1))


def test_fnv1_64_known_answers() -> None:
    """Published FNV-1 64-bit values (draft-eastlake-fnv test suite): "", "a", "foobar"."""
    assert fnv1_64(b"") == 0xCBF29CE484222325
    assert fnv1_64(b"a") == 0xAF63BD4C8601B7BE
    assert fnv1_64(b"foobar") == 0x340D8765A4DDA9C2
    assert fnv1_64_many([b"foobar", b"", b"a"]).tolist() == [
        0x340D8765A4DDA9C2,
        0xCBF29CE484222325,
        0xAF63BD4C8601B7BE,
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=40), st.lists(st.binary(max_size=30), max_size=40))
def test_dcso_scheme_bulk_matches_single_and_set(inserted: list[bytes], probed: list[bytes]) -> None:
    assert fnv1_64_many(inserted).tolist() == [fnv1_64(v) for v in inserted]
    bulk = BloomFilter(200_000, 20, capacity=100, fpr=1e-6, scheme="dcso-fnv1")
    single = BloomFilter(200_000, 20, capacity=100, fpr=1e-6, scheme="dcso-fnv1")
    bulk.update(inserted)
    for v in inserted:
        single.add(v)
    assert bulk == single and len(bulk) == len(set(inserted))
    assert bulk.contains_many(probed).tolist() == [p in set(inserted) for p in probed]


def test_fnv1_64_many_mixed_lengths_match_scalar() -> None:
    rnd = random.Random(5)
    items = [rnd.randbytes(rnd.choice([0, 1, 7, 64, 200, rnd.randrange(5000)])) for _ in range(3000)]
    items += [bytearray(b"abc"), memoryview(b"xyz" * 1000), rnd.randbytes(300_000)]
    assert fnv1_64_many(items).tolist() == [fnv1_64(bytes(v)) for v in items]
    with pytest.raises(TypeError):
        fnv1_64_many([b"a", 5])  # type: ignore[list-item]
