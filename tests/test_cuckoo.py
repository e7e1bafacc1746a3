"""Cuckoo hashing for the OT-extension engine (``blindmatch.psi._cuckoo``).

Placement properties on arbitrary (also degenerate) bin lists against an exact matching oracle, the
failure path, determinism, the keyed bins against a scalar reimplementation, a distribution sanity check,
and the table-size rule (monotone, at least 1.27n, the bound it promises).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import InvalidParameter, LocalError
from blindmatch.psi._cuckoo import (
    EXACT_BOUND_LIMIT,
    STATISTICAL_SECURITY,
    CuckooFailure,
    bin_indexes,
    cuckoo_bins,
    cuckoo_insert,
    failure_bound_log2,
)

KEY = bytes(range(16))


def _hashes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16), dtype=np.uint8)


def _check_placement(idx: np.ndarray, bins: int, table: np.ndarray, which: np.ndarray) -> None:
    n = idx.shape[0]
    assert table.shape == (bins,) and table.dtype == np.int64
    assert which.shape == (n,) and which.dtype == np.int8
    assert ((which >= 0) & (which < 3)).all()
    placed = table[table >= 0]
    assert (table >= -1).all()
    assert np.array_equal(np.sort(placed), np.arange(n))  # every item exactly once
    if n:
        assert np.array_equal(table[idx[np.arange(n), which]], np.arange(n))  # in the bin `which` names


def _matchable(idx: np.ndarray, bins: int) -> bool:
    """Kuhn's augmenting-path algorithm: can every item get its own bin among its 3?"""
    owner = [-1] * bins

    def try_item(item: int, seen: set[int]) -> bool:
        for b in {int(x) for x in idx[item]}:
            if b in seen:
                continue
            seen.add(b)
            if owner[b] < 0 or try_item(owner[b], seen):
                owner[b] = item
                return True
        return False

    return all(try_item(i, set()) for i in range(idx.shape[0]))


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    bins = draw(st.integers(1, 24))
    n = draw(st.integers(0, bins + 2))
    flat = draw(st.lists(st.integers(0, bins - 1), min_size=3 * n, max_size=3 * n))
    return np.array(flat, dtype=np.int64).reshape(n, 3), bins


@settings(max_examples=300, deadline=None)
@given(instances(), st.sampled_from([None, 0, 1, 5]))
def test_placement_exactly_when_a_matching_exists(inst: tuple[np.ndarray, int], rounds: int | None) -> None:
    idx, bins = inst
    if _matchable(idx, bins):
        table, which = cuckoo_insert(idx, bins, max_rounds=rounds)
        _check_placement(idx, bins, table, which)
    else:
        with pytest.raises(CuckooFailure):
            cuckoo_insert(idx, bins, max_rounds=rounds)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2**32 - 1), st.sampled_from([None, 0, 2]))
def test_keyed_tables_place_every_item(n: int, seed: int, rounds: int | None) -> None:
    bins = cuckoo_bins(n)
    idx = bin_indexes(_hashes(n, seed), KEY, bins)
    table, which = cuckoo_insert(idx, bins, max_rounds=rounds)
    _check_placement(idx, bins, table, which)


def test_large_table_places_every_item() -> None:
    n = 1 << 17
    bins = cuckoo_bins(n)
    idx = bin_indexes(_hashes(n, 5), KEY, bins)
    _check_placement(idx, bins, *cuckoo_insert(idx, bins))


def test_four_items_with_the_same_three_bins_fail() -> None:
    idx = np.array([[4, 7, 9]] * 4, dtype=np.int64)
    with pytest.raises(CuckooFailure) as info:
        cuckoo_insert(idx, 10)
    assert isinstance(info.value, LocalError)
    table, which = cuckoo_insert(idx[:3], 10)  # three of them fit
    _check_placement(idx[:3], 10, table, which)


def test_degenerate_rows_still_need_one_bin() -> None:
    idx = np.array([[2, 2, 2], [2, 5, 5], [5, 5, 1]], dtype=np.int64)
    _check_placement(idx, 6, *cuckoo_insert(idx, 6))
    with pytest.raises(CuckooFailure):
        cuckoo_insert(np.array([[0, 0, 0], [0, 0, 0]]), 4)
    with pytest.raises(CuckooFailure):
        cuckoo_insert(np.zeros((5, 3), dtype=np.int64), 4)  # more items than bins


def test_duplicate_items_fail_fast_and_do_not_loop() -> None:
    hashes = _hashes(1 << 16, 3)
    hashes[100:110] = hashes[7]  # 11 copies of one item: at most 3 fit in its 3 bins
    bins = cuckoo_bins(hashes.shape[0])
    with pytest.raises(CuckooFailure):
        cuckoo_insert(bin_indexes(hashes, KEY, bins), bins)
    same = np.repeat(_hashes(1, 4), 1 << 15, axis=0)
    with pytest.raises(CuckooFailure):
        cuckoo_insert(bin_indexes(same, KEY, cuckoo_bins(same.shape[0])), cuckoo_bins(same.shape[0]))


def test_insertion_is_deterministic() -> None:
    n = 5000
    bins = cuckoo_bins(n)
    idx = bin_indexes(_hashes(n, 9), KEY, bins)
    first = cuckoo_insert(idx, bins)
    second = cuckoo_insert(idx.copy(), bins)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert np.array_equal(bin_indexes(_hashes(n, 9), KEY, bins), idx)


def _scalar_bins(item: bytes, key: bytes, bins: int) -> list[int]:
    """Independent scalar reimplementation: k_j = AES_key(j), r_j = int(AES_kj(h)) mod (bins - j), skips."""

    def aes(k: bytes, block: bytes) -> bytes:
        enc = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
        return enc.update(block) + enc.finalize()

    chosen: list[int] = []
    for j in range(3):
        sub = aes(key, bytes([j]) + bytes(15))
        r = int.from_bytes(aes(sub, item), "little") % (bins - j)
        for b in sorted(chosen):  # the r-th bin not yet chosen
            if r >= b:
                r += 1
        chosen.append(r)
    return chosen


@pytest.mark.parametrize("bins", [3, 4, 7, 1000, 2**31 - 1, 2**32])
def test_bin_indexes_match_scalar_reference(bins: int) -> None:
    hashes = _hashes(200, bins % 1000)
    idx = bin_indexes(hashes, KEY, bins)
    assert idx.shape == (200, 3) and idx.dtype == np.int64
    assert ((idx >= 0) & (idx < bins)).all()
    assert (
        (idx[:, 0] != idx[:, 1]).all() and (idx[:, 0] != idx[:, 2]).all() and (idx[:, 1] != idx[:, 2]).all()
    )
    for row, h in zip(idx.tolist(), hashes, strict=True):
        assert row == _scalar_bins(bytes(h), KEY, bins)


def test_bin_indexes_depend_on_key_and_are_uniform() -> None:
    bins, n = 97, 200_000
    idx = bin_indexes(_hashes(n, 11), KEY, bins)
    assert not np.array_equal(idx, bin_indexes(_hashes(n, 11), bytes(16), bins))
    for j in range(3):  # each hash's bin: chi-square over 97 bins, 96 degrees of freedom
        counts = np.bincount(idx[:, j], minlength=bins)
        chi2 = float((((counts - n / bins) ** 2) / (n / bins)).sum())
        assert chi2 < 160, (j, chi2)  # P(chi2_96 > 160) < 1e-4
    pairs = np.bincount(idx[:, 0] * bins + idx[:, 1], minlength=bins * bins).reshape(bins, bins)
    assert (np.diag(pairs) == 0).all()  # never the same bin twice
    off = pairs[~np.eye(bins, dtype=bool)]
    expected = n / (bins * (bins - 1))
    chi2 = float((((off - expected) ** 2) / expected).sum())
    assert abs(chi2 - off.size) < 6 * math.sqrt(2 * off.size)  # mean df, sd sqrt(2 df)


def test_bin_indexes_validate() -> None:
    with pytest.raises(InvalidParameter):
        bin_indexes(np.zeros((2, 15), dtype=np.uint8), KEY, 10)
    with pytest.raises(InvalidParameter):
        bin_indexes(np.zeros((2, 16), dtype=np.int64), KEY, 10)
    with pytest.raises(InvalidParameter):
        bin_indexes(np.zeros((2, 16), dtype=np.uint8), bytes(15), 10)
    with pytest.raises(InvalidParameter):
        bin_indexes(np.zeros((2, 16), dtype=np.uint8), KEY, 2)
    with pytest.raises(TypeError):
        bin_indexes(np.zeros((2, 16), dtype=np.uint8), "k" * 16, 10)  # type: ignore[arg-type]
    assert bin_indexes(np.zeros((0, 16), dtype=np.uint8), KEY, 3).shape == (0, 3)


def test_insert_validates() -> None:
    with pytest.raises(InvalidParameter):
        cuckoo_insert(np.array([[0, 1, 5]]), 5)
    with pytest.raises(InvalidParameter):
        cuckoo_insert(np.array([[0, -1, 2]]), 5)
    with pytest.raises(InvalidParameter):
        cuckoo_insert(np.zeros((2, 2), dtype=np.int64), 5)
    with pytest.raises(InvalidParameter):
        cuckoo_insert(np.zeros((2, 3)), 5)  # floats
    with pytest.raises(InvalidParameter):
        cuckoo_insert(np.zeros((2, 3), dtype=np.int64), 5, max_rounds=-1)
    table, which = cuckoo_insert(np.zeros((0, 3), dtype=np.int64), 4)
    assert (table == -1).all() and which.shape == (0,)


def test_bins_rule_is_monotone_and_at_least_psz() -> None:
    previous = 0
    for n in [*range(0, 600), *range(600, 9000, 7), *(1 << k for k in range(14, 31))]:
        bins = cuckoo_bins(n)
        assert bins >= previous, n
        assert bins >= max(3, math.ceil(1.27 * n)), n
        previous = bins
    assert cuckoo_bins(1 << 20) == math.ceil((1 << 20) * (40 + 20 + 256) / 240)  # cryptoTools' fit
    with pytest.raises(InvalidParameter):
        cuckoo_bins(-1)
    with pytest.raises(TypeError):
        cuckoo_bins(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cuckoo_bins(True)


@pytest.mark.parametrize("n", [4, 5, 16, 100, 1000, EXACT_BOUND_LIMIT])
def test_small_tables_meet_the_proven_bound(n: int) -> None:
    bins = cuckoo_bins(n)
    assert failure_bound_log2(n, bins) <= -STATISTICAL_SECURITY
    if bins > math.ceil(1.27 * n):  # and it is the fewest bins that do
        assert failure_bound_log2(n, bins - 1) > -STATISTICAL_SECURITY


def test_failure_bound_counts_the_dominant_term() -> None:
    # 4 items, all in one 3-subset of 10 bins: C(10,3) choices, each 120^-4 -> 120^-3 exactly.
    assert failure_bound_log2(4, 10) == pytest.approx(-3 * math.log2(120))
    assert failure_bound_log2(3, 10) == -math.inf
