"""Over-threshold matching (docs/groups.md): each lab learns exactly its items held by at least t labs
(checked against plain counting over Python sets, n = 3..5, t = 2..n, with padding); a lab applying another
key is caught by the next hop's proof; hostile uploads and hops raise typed remote errors only."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import RemoteError
from blindmatch.groups.overthreshold import (
    FIELD,
    OverThresholdError,
    RingLab,
    RunParams,
    bins_and_slots,
    coordinate,
    run_in_memory,
)
from blindmatch.hazmat import oprf
from blindmatch.hazmat._ed25519 import reduce64, scalar_bytes


def _expected(sets: list[set[bytes]], t: int) -> list[list[bytes]]:
    return [sorted(x for x in s if sum(x in o for o in sets) >= t) for s in sets]


@pytest.mark.parametrize("n", [3, 4, 5])
def test_every_t_matches_plain_counting(n: int) -> None:
    rng = random.Random(n)
    sets = [{f"e{i}@x.org".encode() for i in rng.sample(range(60), rng.randint(5, 25))} for _ in range(n)]
    for t in range(2, n + 1):
        assert run_in_memory(sets, t, n_items=32) == _expected(sets, t)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.sets(st.integers(0, 40), max_size=15), min_size=3, max_size=4), st.data())
def test_property_against_sets(raw: list[set[int]], data: st.DataObject) -> None:
    sets = [{f"i{x}".encode() for x in s} for s in raw]
    t = data.draw(st.integers(2, len(sets)))
    assert run_in_memory(sets, t, n_items=16) == _expected(sets, t)


def test_bins_and_slots_bound_overflow() -> None:
    for n_items in (1, 10, 1000, 1 << 14):
        bins, m = bins_and_slots(n_items, 3, 2)
        assert bins >= 1 and 1 <= m <= n_items


def _labs(n: int = 3, t: int = 2) -> tuple[RunParams, dict[int, RingLab]]:
    params = RunParams(n, t, 8, bytes(16))
    labs = {i: RingLab(i, [b"a", b"b", bytes([i])], params, seed=bytes([i]) * 32) for i in range(1, n + 1)}
    params = params.with_keys({i: lab.public_key for i, lab in labs.items()})
    for lab in labs.values():
        lab.params = params
    return params, labs


def _other_key(lab: RingLab) -> oprf.KindKey:
    k = reduce64(bytes(range(64)))
    return oprf.KindKey(b"", scalar_bytes(k), lab.public_key)


def test_a_lab_applying_another_key_to_its_proof_is_caught_by_the_next() -> None:
    _, labs = _labs()
    hop = labs[2].apply(labs[1].start())
    wrong = oprf.evaluate(_other_key(labs[2]), [hop.chain[0]])
    forged = dataclasses.replace(hop, chain=(hop.chain[0], wrong[0]))
    with pytest.raises(OverThresholdError, match="lab 2 applied another key"):
        labs[3].apply(forged)


@pytest.mark.parametrize("how", ["all", "one", "swap", "reuse"])
def test_a_lab_altering_the_list_is_caught_by_the_owner(how: str) -> None:
    _, labs = _labs()
    sent = labs[1].start()
    hop = labs[2].apply(sent)
    pts = list(hop.points)
    if how == "all":  # another key for the whole list, the right one for the check value
        pts = oprf.evaluate(_other_key(labs[2]), list(sent.points))
    elif how == "one":
        pts[3] = oprf.evaluate(_other_key(labs[2]), [pts[3]])[0]
    elif how == "swap":
        pts[0], pts[1] = pts[1], pts[0]
    else:  # one item's point twice: the next lab refuses duplicates already
        pts[5] = pts[4]
        with pytest.raises(RemoteError, match="duplicated"):
            labs[3].apply(dataclasses.replace(hop, points=tuple(pts)))
        return
    altered = dataclasses.replace(hop, points=tuple(pts))
    back = labs[3].apply(altered)  # lab 3 cannot tell: only the owner holds the check coefficients
    with pytest.raises(OverThresholdError, match="came back altered"):
        labs[1].finish(back)


def test_a_replaced_check_value_is_caught_by_the_owner() -> None:
    _, labs = _labs()
    sent = labs[1].start()
    other = labs[2].start()
    hop = labs[2].apply(dataclasses.replace(sent, chain=(other.chain[0],)))
    with pytest.raises(OverThresholdError, match="another check value"):
        labs[1].finish(labs[3].apply(hop))


def test_hops_out_of_order_are_refused() -> None:
    _, labs = _labs()
    start = labs[1].start()
    with pytest.raises(OverThresholdError):
        labs[3].apply(start)  # skips lab 2
    with pytest.raises(OverThresholdError):
        labs[1].finish(labs[2].apply(start))  # came back before lab 3 applied its key


def test_hostile_uploads_raise_typed_errors() -> None:
    params, _ = _labs()
    bins, m = params.bins
    good = [[1] * m for _ in range(bins)]
    hostile = [None, [], [[1] * (m + 1)] * bins, [[FIELD] * m] * bins, [[-1] * m] * bins, [[True] * m] * bins,
               [["1"] * m] * bins]  # fmt: skip
    for bad in hostile:
        with pytest.raises(OverThresholdError) as info:
            coordinate(params, {1: good, 2: good, 3: bad})
        assert isinstance(info.value, RemoteError)
    with pytest.raises(OverThresholdError):
        coordinate(params, {1: good, 2: good})  # a lab dropped out: no partial result


def test_a_lone_holder_cannot_fake_the_threshold() -> None:
    """A lab that uploads its own item's share in every slot of the bin still has one x-coordinate: with
    t = 2 and nobody else holding the item, nothing passes for it."""
    sets = [{b"lone", b"shared"}, {b"shared"}, {b"other"}]
    assert run_in_memory(sets, 2, n_items=4) == [[b"shared"], [b"shared"], []]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 3), st.integers(1, 6), st.data())
def test_the_vectorized_join_is_the_exact_loop(h: int, m: int, data: st.DataObject) -> None:
    """``groups._join``: numpy's low-64-bit filter then exact checks give exactly the plain loop's choices,
    with values near the field's top (sums wrap past p up to h - 1 times) and planted passing choices."""
    from itertools import product

    from blindmatch.groups._join import slot_choices

    near_top = st.integers(FIELD - 2**70, FIELD - 1)
    cols = [data.draw(st.lists(st.one_of(near_top, st.integers(0, FIELD - 1)), min_size=m, max_size=m))
            for _ in range(h)]  # fmt: skip
    last = data.draw(st.lists(st.integers(0, FIELD - 1), min_size=m, max_size=m))
    for _ in range(data.draw(st.integers(0, 3))):  # plant passing choices
        choice = data.draw(st.tuples(*[st.integers(0, m - 1)] * h))
        last[data.draw(st.integers(0, m - 1))] = sum(cols[k][s] for k, s in enumerate(choice)) % FIELD
    index: dict[int, list[int]] = {}
    for s, y in enumerate(last):
        index.setdefault(y, []).append(s)
    want = sorted(
        (*choice, s_last)
        for choice in product(range(m), repeat=h)
        for s_last in index.get(sum(cols[k][s] for k, s in enumerate(choice)) % FIELD, ())
    )
    assert sorted(slot_choices(cols, index, FIELD)) == want
