"""LSH banding math: collision probability, parameter choice, similarity estimates.

A signature of ``b * r`` MinHash rows is cut into ``b`` bands of ``r`` rows. Two prompts whose shingle
sets have Jaccard similarity ``s`` agree on one row with probability ``s``, on a whole band with
probability ``s^r``, and share at least one band with probability ``P(s) = 1 - (1 - s^r)^b``.

For a threshold ``t``, :func:`optimal_bands` picks ``(b, r)`` with ``b * r <= num_perm`` minimising
``fp_weight * FP + fn_weight * FN``, where ``FP = integral_0^t P(s) ds`` (the area of unwanted matches
below the threshold) and ``FN = integral_t^1 (1 - P(s)) ds`` (the area of missed matches above it) --
the criterion datasketch's ``MinHashLSH`` uses. The integrals are computed here with composite Simpson's
rule on a fixed grid, for all candidate ``(b, r)`` at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import InvalidParameter

__all__ = [
    "BandParams",
    "collision_probability",
    "estimate_similarity",
    "false_negative_area",
    "false_positive_area",
    "optimal_bands",
]

_GRID = 2048  # Simpson intervals per integral (even); error far below 1e-9 for these smooth integrands


@dataclass(frozen=True)
class BandParams:
    """A banding: ``bands`` bands of ``rows`` rows, with its FP and FN areas for ``threshold``."""

    bands: int
    rows: int
    threshold: float
    fp_area: float
    fn_area: float


def _check_threshold(threshold: float) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
        raise InvalidParameter("threshold must be a number strictly between 0 and 1")


def _check_banding(bands: int, rows: int) -> None:
    for name, v in (("bands", bands), ("rows", rows)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidParameter(f"{name} must be a positive int")


def collision_probability(s: float | npt.ArrayLike, bands: int, rows: int) -> npt.NDArray[np.float64]:
    """``1 - (1 - s^rows)^bands``: the chance that prompts of Jaccard ``s`` share at least one band."""
    _check_banding(bands, rows)
    arr = np.asarray(s, dtype=np.float64)
    if np.any((arr < 0) | (arr > 1)) or np.any(np.isnan(arr)):
        raise InvalidParameter("similarities must lie in [0, 1]")
    with np.errstate(divide="ignore"):  # s = 1 gives log1p(-1) = -inf and probability exactly 1
        return np.asarray(-np.expm1(bands * np.log1p(-(arr**rows))), dtype=np.float64)


def _simpson(y: npt.NDArray[np.float64], lo: float, hi: float) -> npt.NDArray[np.float64]:
    """Composite Simpson's rule along the last axis of samples ``y`` on an even grid over [lo, hi]."""
    h = (hi - lo) / (y.shape[-1] - 1)
    w = np.ones(y.shape[-1])
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return np.asarray(y @ w * (h / 3.0), dtype=np.float64)


def _areas(
    threshold: float, bands: npt.NDArray[np.float64], rows: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    below = np.linspace(0.0, threshold, _GRID + 1)
    above = np.linspace(threshold, 1.0, _GRID + 1)
    b = bands[:, None]
    r = rows[:, None]
    # P(s) = 1 - (1 - s^r)^b, and 1 - P(s) = (1 - s^r)^b; log1p/expm1 keep precision near 0 and 1.
    with np.errstate(divide="ignore"):
        miss_below = np.exp(b * np.log1p(-(below[None, :] ** r)))
        miss_above = np.exp(b * np.log1p(-(above[None, :] ** r)))
    fp = _simpson(1.0 - miss_below, 0.0, threshold)
    fn = _simpson(miss_above, threshold, 1.0)
    return fp, fn


def false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """``integral_0^threshold P(s) ds``."""
    _check_threshold(threshold)
    _check_banding(bands, rows)
    fp, _ = _areas(threshold, np.array([float(bands)]), np.array([float(rows)]))
    return float(fp[0])


def false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """``integral_threshold^1 (1 - P(s)) ds``."""
    _check_threshold(threshold)
    _check_banding(bands, rows)
    _, fn = _areas(threshold, np.array([float(bands)]), np.array([float(rows)]))
    return float(fn[0])


def optimal_bands(
    threshold: float,
    num_perm: int,
    *,
    fp_weight: float = 0.5,
    fn_weight: float = 0.5,
    max_bands: int | None = None,
) -> BandParams:
    """The ``(bands, rows)`` with ``bands * rows <= num_perm`` minimising the weighted FP + FN area.

    Candidates are ordered by ``bands`` then ``rows``; the first minimum wins (as in datasketch).
    ``max_bands`` caps ``bands`` (each band is one PSI item per prompt, so bands cost exchange time).
    """
    _check_threshold(threshold)
    if isinstance(num_perm, bool) or not isinstance(num_perm, int) or num_perm < 1:
        raise InvalidParameter("num_perm must be a positive int")
    for name, w in (("fp_weight", fp_weight), ("fn_weight", fn_weight)):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (w >= 0 and math.isfinite(w)):
            raise InvalidParameter(f"{name} must be a finite number >= 0")
    if fp_weight + fn_weight <= 0:
        raise InvalidParameter("fp_weight and fn_weight must not both be 0")
    top = num_perm if max_bands is None else max_bands
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InvalidParameter("max_bands must be a positive int")
    cand = [(b, r) for b in range(1, min(top, num_perm) + 1) for r in range(1, num_perm // b + 1)]
    bs = np.array([c[0] for c in cand], dtype=np.float64)
    rs = np.array([c[1] for c in cand], dtype=np.float64)
    fp = np.empty(len(cand))
    fn = np.empty(len(cand))
    for lo in range(0, len(cand), 256):  # 256 candidates x 2,049 samples at a time: bounded memory
        fp[lo : lo + 256], fn[lo : lo + 256] = _areas(float(threshold), bs[lo : lo + 256], rs[lo : lo + 256])
    err = fp_weight * fp + fn_weight * fn
    i = int(np.argmin(err))  # argmin returns the first minimum
    return BandParams(cand[i][0], cand[i][1], float(threshold), float(fp[i]), float(fn[i]))


def estimate_similarity(
    matched: int, bands: int, rows: int, *, z: float = 1.96
) -> tuple[float, float, float]:
    """Jaccard similarity implied by ``matched`` of ``bands`` bands agreeing: ``(estimate, low, high)``.

    Each band agrees independently with probability ``p = s^rows``; ``matched / bands`` estimates ``p``
    and ``(matched / bands)^(1 / rows)`` estimates ``s``. ``low``/``high`` map the Wilson score interval
    for ``p`` (``z`` standard errors; 1.96 gives about 95 %) through the same root.
    """
    _check_banding(bands, rows)
    if isinstance(matched, bool) or not isinstance(matched, int) or not 0 <= matched <= bands:
        raise InvalidParameter("matched must be an int in 0..bands")
    if not (z > 0 and math.isfinite(z)):
        raise InvalidParameter("z must be a positive finite number")
    p = matched / bands
    z2 = z * z
    centre = (p + z2 / (2 * bands)) / (1 + z2 / bands)
    half = z * math.sqrt(p * (1 - p) / bands + z2 / (4 * bands * bands)) / (1 + z2 / bands)
    lo = max(0.0, centre - half) if matched > 0 else 0.0
    hi = min(1.0, centre + half) if matched < bands else 1.0
    inv = 1.0 / rows
    return p**inv, lo**inv, hi**inv
