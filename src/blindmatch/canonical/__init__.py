"""Canonicalization: one canonical string per indicator, so that two labs' tokens agree.

``canonicalize(kind, value)`` applies the rules of canon version :data:`CANON_VERSION` (written down in
``docs/canonicalization.md`` and pinned by ``tests/vectors/canonical-v1.json``). Any change to a rule is a
new canon version: tokens and filters record the version they were made under.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..errors import InvalidIndicator, InvalidParameter
from ._card import card_from_pan
from ._rules import RULES, RULES_BY_VERSION, Options, Rule

__all__ = [
    "CANON_VERSION",
    "CANON_VERSIONS",
    "KINDS",
    "CanonBatch",
    "canonicalize",
    "canonicalize_many",
    "card_from_pan",
    "check_canon_version",
    "kinds_of",
]

#: The canon version used unless a caller names another (what tokens, filters and PSI items carry).
#: Canon version 2 (issue 13) is being built beside it: ``canonicalize(..., version=2)``.
CANON_VERSION = 1
#: Every canon version ``canonicalize`` can apply. Any change of output for any input is a new version.
CANON_VERSIONS: tuple[int, ...] = tuple(RULES_BY_VERSION)

#: Every indicator kind canon version 1 knows, in a stable order.
KINDS: tuple[str, ...] = tuple(RULES)


def kinds_of(version: int) -> tuple[str, ...]:
    """The kinds canon ``version`` knows, in a stable order."""
    return tuple(_table(version))


def check_canon_version(version: object) -> int:
    """``version`` when it is a canon version this library applies; else ``InvalidParameter``."""
    if type(version) is not int or version not in RULES_BY_VERSION:
        raise InvalidParameter(f"canon version must be one of {', '.join(map(str, CANON_VERSIONS))}")
    return version


def _table(version: int) -> dict[str, Rule]:
    return RULES_BY_VERSION[check_canon_version(version)]


# Lone surrogates are not Unicode text: they cannot be encoded as UTF-8, so no rule may pass them on.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_REASON = "lone surrogate (not valid Unicode text)"


def _rule(kind: str, version: int = CANON_VERSION) -> Rule:
    if not isinstance(kind, str):
        raise TypeError("kind must be a str")
    table = _table(version)
    try:
        return table[kind]
    except KeyError:
        raise InvalidIndicator(kind, f"unknown kind (known: {', '.join(table)})") from None


def canonicalize(
    kind: str, value: str, *, default_region: str | None = None, version: int = CANON_VERSION
) -> str:
    """Return the canonical form of ``value`` as an indicator of ``kind`` under canon ``version``.

    ``default_region`` (ISO 3166 alpha-2, e.g. ``"US"``) lets ``phone`` accept national numbers.
    Raises :class:`~blindmatch.InvalidIndicator` (also a ``ValueError``) naming the kind and the reason.
    """
    rule = _rule(kind, version)
    if not isinstance(value, str):
        raise InvalidIndicator(kind, f"value must be a str, not {type(value).__name__}")
    if not value.isascii() and _SURROGATE.search(value) is not None:
        raise InvalidIndicator(kind, _SURROGATE_REASON)
    return rule(value, Options(default_region))


@dataclass(frozen=True)
class CanonBatch:
    """Result of :func:`canonicalize_many`.

    ``values[i]`` is the canonical form of input number ``indices[i]``; ``skipped_by_reason`` counts the
    inputs left out, by reason (never by value).
    """

    kind: str
    values: list[str]
    indices: list[int]
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())


def canonicalize_many(
    kind: str,
    values: Iterable[str],
    *,
    errors: Literal["raise", "skip"] = "raise",
    default_region: str | None = None,
    version: int = CANON_VERSION,
) -> CanonBatch:
    """Canonicalize many values of one kind.

    With ``errors="raise"`` the first invalid value raises :class:`~blindmatch.InvalidIndicator` (its
    message names the input position); with ``errors="skip"`` invalid values are left out and counted.
    """
    if errors not in ("raise", "skip"):
        raise InvalidParameter("errors must be 'raise' or 'skip'")
    rule = _rule(kind, version)
    opts = Options(default_region)
    out: list[str] = []
    idx: list[int] = []
    reasons: Counter[str] = Counter()
    for i, value in enumerate(values):
        try:
            if not isinstance(value, str):
                raise InvalidIndicator(kind, f"value must be a str, not {type(value).__name__}")
            if not value.isascii() and _SURROGATE.search(value) is not None:
                raise InvalidIndicator(kind, _SURROGATE_REASON)
            out.append(rule(value, opts))
        except InvalidIndicator as exc:
            if errors == "raise":
                raise InvalidIndicator(kind, f"{exc.reason} (input #{i})") from None
            reasons[exc.reason] += 1
            continue
        idx.append(i)
    return CanonBatch(kind, out, idx, dict(reasons))
