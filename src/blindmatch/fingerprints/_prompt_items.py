"""Prompt-fingerprint exchanges through the PSI: band items out, per-prompt matches back.

:func:`prompt_items` fingerprints prompts and turns every distinct band value into a PSI item
(``indicator_item("prompt-band", value)``); :meth:`PromptItems.matches` maps the matched items of a
:class:`~blindmatch.psi.PsiResult` (or any iterable of matched items) back to the caller's own prompts.
A transport (sessions, CLI) uses exactly these two steps around its own PSI parties;
:func:`exchange_in_memory` runs both parties in one process.

Caps and padding count PSI items, that is *band items*: a batch of ``n`` prompts makes at most
``n * bands`` items (fewer when prompts of the batch share bands), see :func:`max_band_items`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidParameter
from ..psi import DEFAULT_MAX_PEER_ITEMS, Mode, PsiResult, indicator_item, run_in_memory
from ._bands import BAND_KIND, PromptFingerprints, fingerprint_prompts
from ._lsh import estimate_similarity
from ._profiles import FingerprintProfile, get_profile

__all__ = [
    "PromptExchange",
    "PromptItems",
    "PromptMatch",
    "exchange_in_memory",
    "items_from_fingerprints",
    "max_band_items",
    "prompt_items",
]


@dataclass(frozen=True)
class PromptMatch:
    """One of the caller's prompts that shares at least one band with the peer's prompts.

    ``index`` is the prompt's position in the caller's input; ``matched_bands`` the indices of its bands
    found on the other side (``bands_matched`` of ``bands``). ``similarity`` is the Jaccard similarity
    that many matched bands imply, ``similarity_low``/``similarity_high`` an approximate 95 % range
    (see :func:`~blindmatch.fingerprints.estimate_similarity`). Bands may have matched different peer
    prompts: the estimate is then an upper-leaning estimate of the similarity to the closest one.
    """

    index: int
    bands_matched: int
    bands: int
    similarity: float
    similarity_low: float
    similarity_high: float
    matched_bands: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class PromptItems:
    """The PSI items of a batch of prompts, and the way back from matched items to prompts.

    ``items`` are the distinct band items (sorted; the PSI shuffles them anyway). Pass them to an
    :class:`~blindmatch.psi.Initiator` or :class:`~blindmatch.psi.Responder`, then call :meth:`matches`.
    """

    fingerprints: PromptFingerprints
    items: list[bytes]
    _owners: dict[bytes, tuple[tuple[int, int], ...]]
    _values: list[str]

    @property
    def profile(self) -> FingerprintProfile:
        return self.fingerprints.profile

    def __len__(self) -> int:
        return len(self.items)

    @property
    def items_by_kind(self) -> dict[str, list[str]]:
        """``{"prompt-band": distinct band values}``: the form the session layer's ``items_by_kind`` takes
        (it maps each value with ``indicator_item``, giving exactly :attr:`items`)."""
        return {BAND_KIND: list(self._values)}

    def __repr__(self) -> str:
        n = len(self.fingerprints)
        return f"<PromptItems profile={self.profile.tag} prompts={n} items={len(self.items)}>"

    def matches(self, result: PsiResult | Iterable[bytes | tuple[str, str]]) -> list[PromptMatch]:
        """Per-prompt matches, in input order, for a PSI result over :attr:`items` (or its matched items).

        ``result`` is a :class:`~blindmatch.psi.PsiResult`, or an iterable of matched items: item bytes
        (``PsiResult.matched``, a session result's ``matched_items``) or ``("prompt-band", value)`` pairs
        (a session result's ``matched``). Duplicates are harmless.

        Raises :class:`~blindmatch.InvalidParameter` if the result carries no items (count-only modes,
        or the responder in ``intersection`` mode) or holds an item that is not one of :attr:`items`.
        """
        if isinstance(result, PsiResult):
            if result.matched is None:
                raise InvalidParameter(
                    f"this party's PSI result in mode {result.mode!r} carries no items to map to prompts"
                )
            matched: Iterable[bytes | tuple[str, str]] = result.matched
        elif isinstance(result, (bytes, str)):
            raise InvalidParameter("result must be a PsiResult or an iterable of matched items")
        else:
            matched = result
        prof = self.profile
        hits: dict[int, set[int]] = {}
        for entry in matched:
            item = entry
            if (
                isinstance(entry, tuple)
                and len(entry) == 2
                and entry[0] == BAND_KIND
                and isinstance(entry[1], str)
            ):
                item = indicator_item(BAND_KIND, entry[1])
            owners = self._owners.get(item) if isinstance(item, bytes) else None
            if owners is None:
                raise InvalidParameter("the result holds an item that is not one of these prompts' items")
            for pos, band in owners:
                hits.setdefault(pos, set()).add(band)
        out = []
        indices = self.fingerprints.indices
        for pos in sorted(hits):
            bands = tuple(sorted(hits[pos]))
            est, lo, hi = estimate_similarity(len(bands), prof.bands, prof.rows)
            out.append(PromptMatch(indices[pos], len(bands), prof.bands, est, lo, hi, bands))
        return out


def items_from_fingerprints(fingerprints: PromptFingerprints) -> PromptItems:
    """:class:`PromptItems` of prompts already fingerprinted."""
    owners: dict[bytes, list[tuple[int, int]]] = {}
    values: dict[bytes, str] = {}
    for pos, bands in enumerate(fingerprints.bands):
        for band, value in enumerate(bands):
            item = indicator_item(BAND_KIND, value)
            owners.setdefault(item, []).append((pos, band))
            values[item] = value
    items = sorted(owners)
    return PromptItems(
        fingerprints, items, {k: tuple(v) for k, v in owners.items()}, [values[k] for k in items]
    )


def prompt_items(
    prompts: Iterable[str],
    profile: str | FingerprintProfile = "default",
    *,
    errors: Literal["raise", "skip"] = "raise",
) -> PromptItems:
    """Fingerprint ``prompts`` (see :func:`~blindmatch.fingerprints.fingerprint_prompts`) into PSI items."""
    return items_from_fingerprints(fingerprint_prompts(prompts, profile, errors=errors))


def max_band_items(num_prompts: int, profile: str | FingerprintProfile = "default") -> int:
    """Most PSI items ``num_prompts`` prompts can make: the item cap to agree on for that many prompts."""
    if isinstance(num_prompts, bool) or not isinstance(num_prompts, int) or num_prompts < 0:
        raise InvalidParameter("num_prompts must be an int >= 0")
    return num_prompts * get_profile(profile).bands


@dataclass(frozen=True)
class PromptExchange:
    """Outcome of :func:`exchange_in_memory`: each side's per-prompt matches (``None`` where its mode
    gives that side no items) and the raw PSI results."""

    initiator: list[PromptMatch] | None
    responder: list[PromptMatch] | None
    initiator_result: PsiResult
    responder_result: PsiResult


def exchange_in_memory(
    a_prompts: Iterable[str] | PromptItems,
    b_prompts: Iterable[str] | PromptItems,
    *,
    profile: str | FingerprintProfile = "default",
    mode: Mode = "mutual",
    errors: Literal["raise", "skip"] = "raise",
    rng: Callable[[int], bytes] | None = None,
    workers: int = 1,
    max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
) -> PromptExchange:
    """Run a whole prompt-fingerprint PSI between two in-process parties (tests, demos, benchmarks).

    ``a_prompts`` is the initiator's side, ``b_prompts`` the responder's; either may be prepared
    :class:`PromptItems` (their profile must then be ``profile``'s).
    """
    prof = get_profile(profile)
    sides = []
    for side in (a_prompts, b_prompts):
        pi = side if isinstance(side, PromptItems) else prompt_items(side, prof, errors=errors)
        if pi.profile.tag != prof.tag:
            raise InvalidParameter("both sides must be fingerprinted under the same profile")
        sides.append(pi)
    a, b = sides
    ra, rb = run_in_memory(a.items, b.items, mode, rng=rng, workers=workers, max_peer_items=max_peer_items)
    return PromptExchange(
        a.matches(ra) if ra.matched is not None else None,
        b.matches(rb) if rb.matched is not None else None,
        ra,
        rb,
    )
