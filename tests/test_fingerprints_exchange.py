"""Prompt-fingerprint exchanges through the PSI: identical prompts match, unrelated ones do not, and the
PSI's answer equals intersecting the band sets directly."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.corpus import EDIT_KINDS, evaluation_corpus, make_variant
from blindmatch.canonical import canonicalize
from blindmatch.errors import InvalidIndicator, InvalidParameter
from blindmatch.fingerprints import (
    BAND_KIND,
    PROFILES,
    PromptMatch,
    estimate_similarity,
    exchange_in_memory,
    fingerprint_prompts,
    max_band_items,
    prompt_items,
)
from blindmatch.psi import Initiator, Responder, indicator_item, run_in_memory


def _seeded_rng(seed: int) -> object:
    r = random.Random(seed)
    return lambda n: r.randbytes(n)


def _is_prompt(text: str) -> bool:
    try:
        canonicalize("prompt", text)
    except InvalidIndicator:
        return False
    return True


prompts_st = st.text(min_size=1, max_size=300).filter(_is_prompt)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=prompts_st, other=prompts_st, profile=st.sampled_from(sorted(PROFILES)))
def test_identical_prompts_always_match(prompt: str, other: str, profile: str) -> None:
    ex = exchange_in_memory([other, prompt], [prompt.upper() + "  "], profile=profile, rng=_seeded_rng(1))
    bands = PROFILES[profile].bands
    # upper() then canonical casefold may differ from casefold alone for a few characters; compare canon.
    same = canonicalize("prompt", prompt.upper()) == canonicalize("prompt", prompt)
    if same:
        assert ex.initiator is not None and ex.responder is not None
        mine = [m for m in ex.initiator if m.index == 1]
        assert mine and mine[0].bands_matched == bands and mine[0].similarity == 1.0
        assert ex.responder[0].index == 0 and ex.responder[0].bands_matched == bands
    ex2 = exchange_in_memory([prompt], [prompt], profile=profile, rng=_seeded_rng(2))
    assert ex2.initiator == ex2.responder
    low = estimate_similarity(bands, bands, PROFILES[profile].rows)[1]
    assert ex2.initiator == [PromptMatch(0, bands, bands, 1.0, low, 1.0, tuple(range(bands)))]


def test_unrelated_prompts_never_match_at_default_in_ten_thousand_pairs() -> None:
    corpus = evaluation_corpus(100, seed=2026, variants_per_original=0, n_unrelated=100)
    a = fingerprint_prompts(corpus.originals)  # 100 prompts
    b = fingerprint_prompts(corpus.unrelated)  # 50 other templates' renderings + 50 random prompts
    assert len(a) * len(b) == 10_000
    b_sets = [set(v) for v in b.bands]
    shared = sum(1 for va in a.bands for vb in b_sets if vb.intersection(va))
    assert shared == 0
    # The same through the PSI: no band item in common at all.
    ra, _ = run_in_memory(
        prompt_items(corpus.originals).items, prompt_items(corpus.unrelated).items, rng=_seeded_rng(3)
    )
    assert ra.count == 0 and ra.matched == []


def _direct(a_bands: list[tuple[str, ...]], b_bands: list[tuple[str, ...]]) -> dict[int, tuple[int, ...]]:
    theirs = {v for vals in b_bands for v in vals}
    out = {}
    for i, vals in enumerate(a_bands):
        hit = tuple(j for j, v in enumerate(vals) if v in theirs)
        if hit:
            out[i] = hit
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_psi_result_equals_direct_band_set_matching(seed: int) -> None:
    rng = random.Random(seed)
    corpus = evaluation_corpus(30, seed=seed, variants_per_original=0, n_unrelated=20)
    a = list(corpus.originals[:20])
    a.append(a[0])  # a duplicate on A's side: both copies must be reported
    b = [
        make_variant(
            corpus.originals[i],
            rng.choice(EDIT_KINDS),
            rng.choice((0.02, 0.1, 0.3)),
            rng,
            corpus.templates[i],
        )
        for i in rng.sample(range(30), 15)
    ]
    b += [*corpus.unrelated, a[0].upper()]
    rng.shuffle(b)
    profile = rng.choice(sorted(PROFILES))
    fa, fb = fingerprint_prompts(a, profile), fingerprint_prompts(b, profile)
    ex = exchange_in_memory(a, b, profile=profile, mode="mutual", rng=_seeded_rng(seed))
    assert ex.initiator is not None and ex.responder is not None
    want_a, want_b = _direct(fa.bands, fb.bands), _direct(fb.bands, fa.bands)
    assert want_a  # the planted variants do produce matches
    assert {m.index: m.matched_bands for m in ex.initiator} == want_a
    assert {m.index: m.matched_bands for m in ex.responder} == want_b
    assert 0 in want_a and want_a[0] == want_a[20]
    for m in ex.initiator:
        assert m.bands_matched == len(m.matched_bands) and m.bands == PROFILES[profile].bands
        assert (m.similarity, m.similarity_low, m.similarity_high) == estimate_similarity(
            m.bands_matched, m.bands, PROFILES[profile].rows
        )
    common = {v for vals in fa.bands for v in vals} & {v for vals in fb.bands for v in vals}
    assert ex.initiator_result.count == len(common)
    # Count-only and one-sided modes.
    card = exchange_in_memory(a, b, profile=profile, mode="cardinality", rng=_seeded_rng(seed))
    assert card.initiator is None and card.responder is None and card.initiator_result.count == len(common)
    one = exchange_in_memory(a, b, profile=profile, mode="intersection", rng=_seeded_rng(seed))
    assert one.initiator == ex.initiator and one.responder is None


def test_transport_flow_with_psi_parties() -> None:
    a, b = ["Please write a haiku about autumn leaves."], ["please write a haiku about autumn leaves!!", "no"]
    pa, pb = prompt_items(a), prompt_items(b)
    assert len(pa) == PROFILES["default"].bands and len(pb) == 2 * PROFILES["default"].bands
    assert pa.items == sorted(indicator_item(BAND_KIND, v) for v in fingerprint_prompts(a).bands[0])
    init = Initiator(pa.items, "mutual", max_peer_items=max_band_items(len(b)))
    resp = Responder(pb.items, max_peer_items=max_band_items(len(a)))
    m3 = init.finish(resp.respond(init.start()))
    assert m3 is not None
    resp.finish(m3)
    (ma,) = pa.matches(init.result)
    (mb,) = pb.matches(resp.result.matched or [])
    assert ma.index == 0 and mb.index == 0 and ma.bands_matched == mb.bands_matched >= 1
    # The session layer's form: items_by_kind in, (kind, value) pairs or item bytes out.
    ((kind, values),) = pa.items_by_kind.items()
    assert kind == BAND_KIND and sorted(indicator_item(kind, v) for v in values) == pa.items
    shared = [(kind, v) for v in values if indicator_item(kind, v) in set(init.result.matched or [])]
    assert pa.matches(shared) == [ma]
    with pytest.raises(InvalidParameter):
        pa.matches([("prompt", values[0])])


def test_items_are_distinct_band_items_and_cap_counts_bands() -> None:
    pi = prompt_items(["same prompt", "SAME   prompt", "another one entirely"])
    assert len(pi.items) == len(set(pi.items)) == 2 * PROFILES["default"].bands
    fp = fingerprint_prompts(["same prompt"])
    assert set(pi.items) >= {indicator_item(BAND_KIND, v) for v in fp.bands[0]}
    assert max_band_items(3) == 33 and max_band_items(3, "loose") == 54
    with pytest.raises(InvalidParameter):
        max_band_items(-1)
    assert "same" not in repr(pi)


def test_matches_rejects_results_it_cannot_map() -> None:
    pi = prompt_items(["alpha beta gamma delta"])
    ra, rb = run_in_memory(pi.items, pi.items, "intersection", rng=_seeded_rng(9))
    assert [m.index for m in pi.matches(ra)] == [0]
    with pytest.raises(InvalidParameter, match="carries no items"):
        pi.matches(rb)  # the responder learns nothing in intersection mode
    with pytest.raises(InvalidParameter, match="not one of"):
        pi.matches([b"foreign item"])
    with pytest.raises(InvalidParameter):
        pi.matches(b"raw bytes")
    assert pi.matches([]) == []


def test_exchange_rejects_mixed_profiles_and_skips_invalid_prompts() -> None:
    with pytest.raises(InvalidParameter):
        exchange_in_memory(prompt_items(["a b c"], "loose"), ["a b c"], profile="default")
    ex = exchange_in_memory(["", "keep this prompt"], ["keep this prompt"], errors="skip", rng=_seeded_rng(4))
    assert ex.initiator is not None and [m.index for m in ex.initiator] == [1]
    with pytest.raises(InvalidIndicator):
        exchange_in_memory(["", "x"], ["x"])
