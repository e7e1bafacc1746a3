"""Near-duplicate prompt fingerprints: MinHash over shingles, LSH bands as PSI items.

``fingerprint_prompts`` turns prompts into band values (kind ``prompt-band``); ``prompt_items`` turns
them into PSI items and maps a PSI result back to the caller's own prompts (``PromptItems.matches``);
``exchange_in_memory`` runs a whole exchange in one process. See ``docs/prompt-fingerprints.md`` for the
profiles' measured recall and precision and for what an exchange reveals.
"""

from __future__ import annotations

from ._bands import BAND_KIND, PromptFingerprints, band_values, fingerprint_prompts, prompt_signatures
from ._lsh import (
    BandParams,
    collision_probability,
    estimate_similarity,
    false_negative_area,
    false_positive_area,
    optimal_bands,
)
from ._minhash import minhash_signatures, permutations
from ._profiles import DEFAULT_PROFILE, FINGERPRINT_VERSION, PROFILES, FingerprintProfile, get_profile
from ._prompt_items import (
    PromptExchange,
    PromptItems,
    PromptMatch,
    exchange_in_memory,
    items_from_fingerprints,
    max_band_items,
    prompt_items,
)
from ._shingles import hash_shingles, shingle_hashes, shingles

__all__ = [
    "BAND_KIND",
    "DEFAULT_PROFILE",
    "FINGERPRINT_VERSION",
    "PROFILES",
    "BandParams",
    "FingerprintProfile",
    "PromptExchange",
    "PromptFingerprints",
    "PromptItems",
    "PromptMatch",
    "band_values",
    "collision_probability",
    "estimate_similarity",
    "exchange_in_memory",
    "false_negative_area",
    "false_positive_area",
    "fingerprint_prompts",
    "get_profile",
    "hash_shingles",
    "items_from_fingerprints",
    "max_band_items",
    "minhash_signatures",
    "optimal_bands",
    "permutations",
    "prompt_items",
    "prompt_signatures",
    "shingle_hashes",
    "shingles",
]
