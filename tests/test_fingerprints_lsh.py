"""LSH banding math: collision probability, FP/FN areas, parameter choice, estimates, profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blindmatch.errors import InvalidParameter
from blindmatch.fingerprints import (
    DEFAULT_PROFILE,
    PROFILES,
    FingerprintProfile,
    collision_probability,
    estimate_similarity,
    false_negative_area,
    false_positive_area,
    get_profile,
    optimal_bands,
)


def test_collision_probability_formula() -> None:
    for s in (0.0, 0.3, 0.75, 0.99, 1.0):
        for b, r in ((1, 1), (11, 11), (20, 5)):
            assert float(collision_probability(s, b, r)) == pytest.approx(1 - (1 - s**r) ** b, abs=1e-12)
    p = collision_probability(np.linspace(0, 1, 101), 11, 11)
    assert np.all(np.diff(p) >= 0) and p[0] == 0 and p[-1] == 1
    with pytest.raises(InvalidParameter):
        collision_probability(1.5, 2, 2)
    with pytest.raises(InvalidParameter):
        collision_probability(0.5, 0, 2)


def _riemann(f: object, lo: float, hi: float, n: int = 200_000) -> float:
    s = lo + (np.arange(n) + 0.5) * (hi - lo) / n  # midpoint rule, independent of the Simpson code
    return float(np.sum(f(s)) * (hi - lo) / n)  # type: ignore[operator]


@pytest.mark.parametrize(("t", "b", "r"), [(0.75, 11, 11), (0.5, 25, 5), (0.9, 3, 21), (0.6, 1, 1)])
def test_areas_match_an_independent_integration(t: float, b: int, r: int) -> None:
    fp = _riemann(lambda s: 1 - (1 - s**r) ** b, 0.0, t)
    fn = _riemann(lambda s: (1 - s**r) ** b, t, 1.0)
    assert false_positive_area(t, b, r) == pytest.approx(fp, abs=1e-8)
    assert false_negative_area(t, b, r) == pytest.approx(fn, abs=1e-8)


def test_optimal_bands_equal_datasketch() -> None:
    lsh = pytest.importorskip("datasketch.lsh")
    for num_perm in (16, 64, 128):
        for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
            p = optimal_bands(t, num_perm)
            assert (p.bands, p.rows) == lsh._optimal_param(t, num_perm, 0.5, 0.5)
    p = optimal_bands(0.7, 64, fp_weight=0.9, fn_weight=0.1)
    assert (p.bands, p.rows) == lsh._optimal_param(0.7, 64, 0.9, 0.1)


def test_optimal_bands_is_the_minimum_over_all_candidates() -> None:
    p = optimal_bands(0.75, 32)
    best = min(
        (0.5 * false_positive_area(0.75, b, r) + 0.5 * false_negative_area(0.75, b, r), b, r)
        for b in range(1, 33)
        for r in range(1, 32 // b + 1)
    )
    assert (p.bands, p.rows) == best[1:]
    assert p.bands * p.rows <= 32
    capped = optimal_bands(0.5, 128, max_bands=8)
    assert capped.bands <= 8


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0.0},
        {"threshold": 1.0},
        {"threshold": True},
        {"threshold": 0.5, "num_perm": 0},
        {"threshold": 0.5, "fp_weight": -1.0},
        {"threshold": 0.5, "fp_weight": 0.0, "fn_weight": 0.0},
        {"threshold": 0.5, "max_bands": 0},
        {"threshold": 0.5, "fn_weight": math.inf},
    ],
)
def test_optimal_bands_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    args = {"num_perm": 64, **kwargs}
    with pytest.raises(InvalidParameter):
        optimal_bands(**args)  # type: ignore[arg-type]


def test_presets_are_the_optimal_bandings_of_their_thresholds() -> None:
    assert DEFAULT_PROFILE is PROFILES["default"]
    assert PROFILES["strict"].threshold > PROFILES["default"].threshold > PROFILES["loose"].threshold
    assert 0.7 <= PROFILES["default"].threshold <= 0.8
    for prof in PROFILES.values():
        p = optimal_bands(prof.threshold, prof.num_perm)
        assert (prof.bands, prof.rows) == (p.bands, p.rows)
        same = FingerprintProfile.for_threshold(
            prof.threshold, name=prof.name, shingle=prof.shingle, ngram=prof.ngram, num_perm=prof.num_perm
        )
        assert same == prof
        assert get_profile(prof.name) is prof
        # The S-curve is steep around the threshold.
        assert prof.match_probability(prof.threshold - 0.25) < 0.05 < 0.95 < prof.match_probability(0.97)


@pytest.mark.parametrize(
    "args",
    [
        ("", "char", 5, 128, 11, 11, 0.75),
        ("x", "char", 5, 128, 12, 11, 0.75),  # 132 rows > 128
        ("x", "char", 5, 2048, 11, 11, 0.75),
        ("x", "char", 5, 128, 0, 11, 0.75),
        ("x", "char", 5, 128, 11, 11, 1.0),
        ("x", "token", 5, 128, 11, 11, 0.75),
    ],
)
def test_profile_validation(args: tuple[object, ...]) -> None:
    with pytest.raises(InvalidParameter):
        FingerprintProfile(*args)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        get_profile("nope")


def test_profile_tag_names_everything_that_shapes_band_values() -> None:
    assert DEFAULT_PROFILE.tag == "pf1.char5.k128.b11r11"
    tags = {p.tag for p in PROFILES.values()}
    assert len(tags) == len(PROFILES)


def test_estimate_similarity() -> None:
    assert estimate_similarity(11, 11, 11)[0] == 1.0
    assert estimate_similarity(11, 11, 11)[2] == 1.0
    assert estimate_similarity(0, 11, 11)[:2] == (0.0, 0.0)
    for m in range(12):
        est, lo, hi = estimate_similarity(m, 11, 11)
        assert 0 <= lo <= est <= hi <= 1
        assert est == pytest.approx((m / 11) ** (1 / 11))
    # The true similarity lies in the range in about 95 % of simulated exchanges.
    rng = np.random.default_rng(3)
    s = 0.8
    hits = rng.binomial(11, s**11, size=2000)
    inside = np.mean([lo <= s <= hi for lo, hi in (estimate_similarity(int(m), 11, 11)[1:] for m in hits)])
    assert inside > 0.9
    for bad in ((12, 11, 11), (-1, 11, 11), (1, 0, 11)):
        with pytest.raises(InvalidParameter):
            estimate_similarity(*bad)
