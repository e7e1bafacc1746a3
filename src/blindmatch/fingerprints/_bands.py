"""From prompts to band values: canonicalize, shingle, MinHash, band.

A band value is a ``str`` of the form ``"<profile tag>:<band index>:<32 hex digits>"``; the hex digits
are BLAKE2b-128 of the band's ``rows`` signature values (little-endian ``uint32``). The profile tag and
the band index are part of the value, so band ``i`` can only ever match band ``i`` of a prompt
fingerprinted under the same profile. Band values are the indicator values of kind ``prompt-band``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..canonical import canonicalize
from ..errors import InvalidIndicator, InvalidParameter
from ._minhash import minhash_signatures
from ._profiles import FingerprintProfile, get_profile
from ._shingles import shingle_hashes

__all__ = ["BAND_KIND", "PromptFingerprints", "band_values", "fingerprint_prompts", "prompt_signatures"]

#: Indicator kind of band values (the PSI item is ``indicator_item(BAND_KIND, value)``).
BAND_KIND = "prompt-band"
_PERSON = b"bm1-prompt-band"


@dataclass(frozen=True)
class PromptFingerprints:
    """Fingerprints of a batch of prompts.

    ``bands[i]`` are the band values of input number ``indices[i]`` (in band order) and
    ``signatures[i]`` its MinHash signature; inputs that did not canonicalize are left out and counted in
    ``skipped_by_reason`` (with ``errors="skip"``). Band values are deterministic functions of the
    prompts (anyone can test a guessed prompt against them), so the repr leaves them out.
    """

    profile: FingerprintProfile
    signatures: npt.NDArray[np.uint32] = field(repr=False)
    bands: list[tuple[str, ...]] = field(repr=False)
    indices: list[int] = field(repr=False)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.bands)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())


def _canonical_prompts(
    prompts: Iterable[str], errors: Literal["raise", "skip"]
) -> tuple[list[str], list[int], dict[str, int]]:
    if errors not in ("raise", "skip"):
        raise InvalidParameter("errors must be 'raise' or 'skip'")
    if isinstance(prompts, (str, bytes)):
        raise InvalidParameter("prompts must be an iterable of str, not a single string")
    out: list[str] = []
    idx: list[int] = []
    reasons: Counter[str] = Counter()
    for i, p in enumerate(prompts):
        try:
            if not isinstance(p, str):
                raise InvalidIndicator("prompt", f"value must be a str, not {type(p).__name__}")
            out.append(canonicalize("prompt", p))
        except InvalidIndicator as exc:
            if errors == "raise":
                raise InvalidIndicator("prompt", f"{exc.reason} (input #{i})") from None
            reasons[exc.reason] += 1
            continue
        idx.append(i)
    return out, idx, dict(reasons)


def prompt_signatures(
    canonical_prompts: list[str], profile: str | FingerprintProfile = "default"
) -> npt.NDArray[np.uint32]:
    """MinHash signatures (``(n, num_perm)`` ``uint32``) of prompts that are already canonical."""
    prof = get_profile(profile)
    hashes = [shingle_hashes(c, prof.shingle, prof.ngram) for c in canonical_prompts]
    return minhash_signatures(hashes, prof.num_perm)


def band_values(
    signatures: npt.NDArray[np.uint32], profile: str | FingerprintProfile = "default"
) -> list[tuple[str, ...]]:
    """The ``bands`` band values of each signature row."""
    prof = get_profile(profile)
    sig = np.asarray(signatures)
    if sig.ndim != 2 or sig.shape[1] != prof.num_perm or sig.dtype != np.uint32:
        raise InvalidParameter(f"signatures must be a (n, {prof.num_perm}) uint32 array")
    width = 4 * prof.rows
    used = np.ascontiguousarray(sig[:, : prof.bands * prof.rows], dtype="<u4")
    prefixes = [f"{prof.tag}:{j}:" for j in range(prof.bands)]
    blake = hashlib.blake2b
    out: list[tuple[str, ...]] = []
    for row in used:
        raw = row.tobytes()
        out.append(
            tuple(
                pre + blake(raw[j * width : (j + 1) * width], digest_size=16, person=_PERSON).hexdigest()
                for j, pre in enumerate(prefixes)
            )
        )
    return out


def fingerprint_prompts(
    prompts: Iterable[str],
    profile: str | FingerprintProfile = "default",
    *,
    errors: Literal["raise", "skip"] = "raise",
) -> PromptFingerprints:
    """Canonicalize (``prompt`` rules), shingle, MinHash and band each prompt.

    With ``errors="raise"`` a prompt that does not canonicalize (empty, too long, not a str) raises
    :class:`~blindmatch.InvalidIndicator` naming its position; with ``"skip"`` it is left out and counted.
    """
    prof = get_profile(profile)
    canon, idx, reasons = _canonical_prompts(prompts, errors)
    sig = prompt_signatures(canon, prof)
    return PromptFingerprints(prof, sig, band_values(sig, prof), idx, reasons)
