"""The consortium-key exchange: one lab publishes a Bloom filter of keyed tokens, others check against it.

Lab A::

    tok = Tokenizer(group_key, context=b"ai-labs-2026q4")
    ex = build_exchange(tok, {"api-key": keys, "text": handles}, fpr=1e-6, description="...")
    blob = ex.to_bytes()                 # send this; the key is not in it

Lab B (holding the same key)::

    ex = ExchangeFile.from_bytes(blob)
    found = ex.check(tok, "api-key", my_keys)
    found.candidates                     # probable matches; each false with chance found.false_positive_rate

Threat model (``docs/bloom-exchange.md``): whoever holds the group key can test any guess against the
file offline, so this protects the indicators only from outsiders. Between labs that must reveal nothing
else to each other, confirm candidates with the PSI (``blindmatch.psi``) or use the PSI instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..canonical import CANON_VERSION
from ..errors import InvalidParameter, MalformedFile
from ..tokens import Tokenizer
from ._container import check_max, read_capped, wants_gzip
from .filter import BloomFilter
from .metadata import FilterMetadata

__all__ = [
    "EXCHANGE_NAME",
    "NOT_IN_BLOOM",
    "ExchangeCandidate",
    "ExchangeFile",
    "ExchangeMatches",
    "ExchangeMismatch",
    "build_exchange",
]

#: The metadata ``name`` that marks a native Bloom file as an exchange file.
EXCHANGE_NAME = "blindmatch-exchange-v1"

#: Kinds never put in (or checked against) an exchange file: every holder of the group key can test
#: guesses offline, and one BIN's last four x expiry space (10^4 x ~100 months) is enumerated in seconds.
#: Match them with the PSI, under small caps (docs/canonicalization.md, ``card``).
NOT_IN_BLOOM: frozenset[str] = frozenset({"card"})


def _refuse_kind(kind: str) -> None:
    if kind in NOT_IN_BLOOM:
        raise InvalidParameter(
            f"{kind!r} indicators are never allowed in a Bloom exchange (small enough to enumerate "
            "offline); use the PSI"
        )


class ExchangeMismatch(InvalidParameter):
    """The local tokenizer or kind does not fit the exchange file (key id, canon version, algorithm,
    context or kind differ), so checking would silently find nothing."""


@dataclass(frozen=True)
class ExchangeCandidate:
    """One of the checking lab's own indicators that the filter reports present.

    ``probable`` is always true: a Bloom filter answers "probably present" (false with chance
    :attr:`ExchangeMatches.false_positive_rate`) or "certainly absent".
    """

    kind: str
    index: int
    value: str = field(repr=False)  # the checking lab's own indicator: kept out of reprs and logs
    probable: bool = True


@dataclass(frozen=True)
class ExchangeMatches:
    """Result of :meth:`ExchangeFile.check` for one kind."""

    kind: str
    candidates: list[ExchangeCandidate]
    checked: int
    false_positive_rate: float
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def expected_false_positives(self) -> float:
        """How many of :attr:`candidates` are expected to be false positives (``checked * fpr``)."""
        return self.checked * self.false_positive_rate


@dataclass(frozen=True)
class ExchangeFile:
    """A Bloom filter of keyed tokens plus what a checker needs to know (never the key)."""

    filter: BloomFilter

    def __post_init__(self) -> None:
        md = self.filter.metadata
        if self.filter.scheme != "token":
            raise InvalidParameter("an exchange filter uses the 'token' hash scheme")
        if md.name != EXCHANGE_NAME or md.key_id is None or md.canon_version is None:
            raise InvalidParameter("filter metadata lacks the exchange fields (use build_exchange)")
        if md.algorithm is None or md.context is None or not md.kinds:
            raise InvalidParameter("filter metadata lacks the exchange fields (use build_exchange)")

    # -- what the file says -----------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        return self.filter.metadata.key_id or ""

    @property
    def canon_version(self) -> int:
        return self.filter.metadata.canon_version or 0

    @property
    def algorithm(self) -> str:
        return self.filter.metadata.algorithm or ""

    @property
    def context(self) -> bytes:
        return self.filter.metadata.context or b""

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.filter.metadata.kinds

    @property
    def created(self) -> int | None:
        return self.filter.metadata.created

    @property
    def description(self) -> str:
        return self.filter.metadata.description

    @property
    def false_positive_rate(self) -> float:
        """Chance that a checked indicator the publisher does not hold is reported (from the bits)."""
        return self.filter.expected_fpr()

    def __repr__(self) -> str:
        return (
            f"ExchangeFile(key_id={self.key_id!r}, kinds={self.kinds!r}, count={len(self.filter)}, "
            f"fpr={self.false_positive_rate:.3g})"
        )

    # -- checking ---------------------------------------------------------------------------------

    def verify_tokenizer(self, tokenizer: Tokenizer) -> None:
        """Raise :class:`ExchangeMismatch` unless ``tokenizer`` makes the tokens this file holds."""
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError("tokenizer must be a blindmatch.Tokenizer")
        if tokenizer.key_id != self.key_id:
            raise ExchangeMismatch(
                f"key id mismatch: the file was made under key id {self.key_id}, the tokenizer's key "
                f"has id {tokenizer.key_id}; nothing could match"
            )
        if tokenizer.canon_version != self.canon_version:
            raise ExchangeMismatch(
                f"canon version mismatch: the file uses canonicalization v{self.canon_version}, this "
                f"library v{tokenizer.canon_version}"
            )
        if tokenizer.algorithm != self.algorithm:
            raise ExchangeMismatch(
                f"algorithm mismatch: the file's tokens are {self.algorithm}, the tokenizer's "
                f"{tokenizer.algorithm}"
            )
        if tokenizer.context != self.context:
            raise ExchangeMismatch("context mismatch: the file was made under another token context")

    def check(
        self,
        tokenizer: Tokenizer,
        kind: str,
        values: Iterable[str],
        *,
        errors: Literal["raise", "skip"] = "raise",
        default_region: str | None = None,
    ) -> ExchangeMatches:
        """Canonicalize and tokenize ``values`` as ``kind`` and report those the filter holds."""
        self.verify_tokenizer(tokenizer)
        _refuse_kind(kind)
        if kind not in self.kinds:
            raise ExchangeMismatch(
                f"the exchange file holds no {kind!r} indicators (it holds: {', '.join(self.kinds)})"
            )
        vals = list(values)
        batch = tokenizer.tokens(kind, vals, errors=errors, default_region=default_region)
        hits: list[bool] = self.filter.contains_many(batch.tokens).tolist() if len(batch) else []
        cands = [
            ExchangeCandidate(kind, i, vals[i]) for i, hit in zip(batch.indices, hits, strict=True) if hit
        ]
        return ExchangeMatches(kind, cands, len(batch), self.false_positive_rate, batch.skipped_by_reason)

    def check_many(
        self,
        tokenizer: Tokenizer,
        indicators: Mapping[str, Iterable[str]],
        *,
        errors: Literal["raise", "skip"] = "raise",
        default_region: str | None = None,
    ) -> dict[str, ExchangeMatches]:
        """:meth:`check` for each kind of ``indicators``."""
        return {
            kind: self.check(tokenizer, kind, vals, errors=errors, default_region=default_region)
            for kind, vals in indicators.items()
        }

    # -- files ------------------------------------------------------------------------------------

    def to_bytes(self, *, compress: bool = True) -> bytes:
        """The exchange file: the native Bloom format with the exchange metadata (gzip by default)."""
        return self.filter.to_bytes(compress=compress)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int | None = None) -> ExchangeFile:
        """Parse an exchange file; malformed input or a non-exchange filter raises :class:`MalformedFile`."""
        bf = BloomFilter.from_bytes(data, max_bytes=max_bytes)
        try:
            return cls(bf)
        except InvalidParameter as exc:
            raise MalformedFile(f"not an exchange file: {exc}") from None

    def save(self, path: str | os.PathLike[str], *, compress: bool | None = None) -> None:
        Path(path).write_bytes(self.to_bytes(compress=wants_gzip(path, compress)))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> ExchangeFile:
        limit = check_max(max_bytes)
        return cls.from_bytes(read_capped(path, limit), max_bytes=limit)


def build_exchange(
    tokenizer: Tokenizer,
    indicators: Mapping[str, Iterable[str]],
    *,
    fpr: float = 1e-6,
    capacity: int | None = None,
    description: str = "",
    errors: Literal["raise", "skip"] = "raise",
    default_region: str | None = None,
    clock: Callable[[], float] = time.time,
) -> ExchangeFile:
    """Lab A's side: canonicalize and tokenize ``indicators`` (kind -> values), build the filter.

    ``capacity`` defaults to the number of tokens; a larger one (e.g. rounded up to a bucket) hides the
    exact set size a little better, though the file's count field states it. Invalid values raise (or,
    with ``errors="skip"``, are left out; see :func:`blindmatch.canonicalize_many`).
    """
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError("tokenizer must be a blindmatch.Tokenizer")
    if not isinstance(indicators, Mapping) or not indicators:
        raise InvalidParameter("indicators must be a non-empty mapping of kind -> values")
    tokens: list[bytes] = []
    for kind in indicators:
        _refuse_kind(kind)
    for kind, values in indicators.items():
        tokens += tokenizer.tokens(kind, values, errors=errors, default_region=default_region).tokens
    cap = max(1, len(tokens)) if capacity is None else capacity
    if cap < len(tokens):
        raise InvalidParameter(f"capacity {cap} is below the {len(tokens)} tokens to insert")
    metadata = FilterMetadata(
        key_id=tokenizer.key_id,
        canon_version=CANON_VERSION,
        kinds=tuple(indicators),
        algorithm=tokenizer.algorithm,
        context=tokenizer.context,
        created=int(clock()),
        description=description,
        name=EXCHANGE_NAME,
    )
    bf = BloomFilter.for_capacity(cap, fpr, scheme="token", metadata=metadata)
    bf.update(tokens)
    return ExchangeFile(bf)
