"""Fingerprint profiles: shingling, signature length and banding, as one named, validated value.

Both parties must use the same profile; its :attr:`FingerprintProfile.tag` is written into every band
value, so prompts fingerprinted under different profiles can never match by accident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidParameter
from ._lsh import collision_probability, optimal_bands
from ._minhash import MAX_PERM
from ._shingles import ShingleKind, check_shingling

__all__ = ["DEFAULT_PROFILE", "FINGERPRINT_VERSION", "PROFILES", "FingerprintProfile", "get_profile"]

#: Version of the band-value scheme (shingling, hashing, permutations, band encoding).
FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class FingerprintProfile:
    """How prompts are fingerprinted: ``num_perm`` MinHash rows over ``shingle`` ``ngram``-grams,
    cut into ``bands`` bands of ``rows`` rows (only the first ``bands * rows`` rows are used).

    ``threshold`` is the Jaccard similarity the banding was optimised for; prompts at that similarity
    share a band with probability :meth:`match_probability` of it.
    """

    name: str
    shingle: ShingleKind
    ngram: int
    num_perm: int
    bands: int
    rows: int
    threshold: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.isprintable():
            raise InvalidParameter("profile name must be a non-empty printable str")
        check_shingling(self.shingle, self.ngram)
        for field_name in ("num_perm", "bands", "rows"):
            v = getattr(self, field_name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidParameter(f"{field_name} must be a positive int")
        if self.num_perm > MAX_PERM:
            raise InvalidParameter(f"num_perm must be at most {MAX_PERM}")
        if self.bands * self.rows > self.num_perm:
            raise InvalidParameter("bands * rows must not exceed num_perm")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0.0 < t < 1.0 and math.isfinite(t)):
            raise InvalidParameter("threshold must be a number strictly between 0 and 1")

    @classmethod
    def for_threshold(
        cls,
        threshold: float,
        *,
        name: str = "custom",
        shingle: ShingleKind = "char",
        ngram: int = 5,
        num_perm: int = 128,
        fp_weight: float = 0.5,
        fn_weight: float = 0.5,
        max_bands: int | None = None,
    ) -> FingerprintProfile:
        """A profile whose banding minimises the weighted FP + FN areas for ``threshold``."""
        check_shingling(shingle, ngram)
        if isinstance(num_perm, bool) or not isinstance(num_perm, int) or not 1 <= num_perm <= MAX_PERM:
            raise InvalidParameter(f"num_perm must be an int in 1..{MAX_PERM}")
        p = optimal_bands(threshold, num_perm, fp_weight=fp_weight, fn_weight=fn_weight, max_bands=max_bands)
        return cls(name, shingle, ngram, num_perm, p.bands, p.rows, float(threshold))

    @property
    def tag(self) -> str:
        """Compact, unambiguous id of everything that shapes a band value (not the name or threshold)."""
        shingling = f"{self.shingle}{self.ngram}"
        return f"pf{FINGERPRINT_VERSION}.{shingling}.k{self.num_perm}.b{self.bands}r{self.rows}"

    def match_probability(self, similarity: float) -> float:
        """Chance that two prompts of this Jaccard similarity share at least one band."""
        return float(collision_probability(similarity, self.bands, self.rows))


# Presets share one signature (character 5-grams, 128 rows) and differ in the banding only; the bandings are
# what optimal_bands() returns for each threshold (checked by the tests). The shingling was chosen by
# measurement on the evaluation corpus (docs/prompt-fingerprints.md, benchmarks/bench_prompts.py).
PROFILES: dict[str, FingerprintProfile] = {
    "strict": FingerprintProfile("strict", "char", 5, 128, 8, 16, 0.85),
    "default": FingerprintProfile("default", "char", 5, 128, 11, 11, 0.75),
    "loose": FingerprintProfile("loose", "char", 5, 128, 18, 7, 0.6),
}
DEFAULT_PROFILE = PROFILES["default"]


def get_profile(profile: str | FingerprintProfile) -> FingerprintProfile:
    """A preset by name, or the given profile itself."""
    if isinstance(profile, FingerprintProfile):
        return profile
    if isinstance(profile, str) and profile in PROFILES:
        return PROFILES[profile]
    raise InvalidParameter(f"unknown fingerprint profile (presets: {', '.join(PROFILES)})")
