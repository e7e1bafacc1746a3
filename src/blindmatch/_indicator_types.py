"""The values :class:`~blindmatch.IndicatorSet` hands out: input specifications and summaries, PSI items,
matches with their origins, and the redaction of sensitive values in reports."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeAlias

from .canonical import CANON_VERSION, check_canon_version, kinds_of
from .errors import InvalidParameter
from .fingerprints import BAND_KIND, FingerprintProfile, PromptItems
from .inputs import FORMATS
from .psi import IndicatorItems

__all__ = [
    "LINE_BITS",
    "MAX_PROBLEMS",
    "SENSITIVE_KINDS",
    "IndicatorMatch",
    "InputSpec",
    "PromptNearMatch",
    "PsiItems",
    "Ref",
    "SetMatches",
    "SourceSummary",
    "redact",
    "source_of",
]

#: Kinds whose values are secrets or payment data: reports show them redacted (:func:`redact`).
#: ``card`` and ``iban`` are canon version 2 kinds.
SENSITIVE_KINDS: frozenset[str] = frozenset({"api-key", "payment-fingerprint", "card", "iban"})

#: How many invalid rows an :class:`~blindmatch.IndicatorSet` names (by origin and reason); the rest are
#: only counted.
MAX_PROBLEMS = 20

LINE_BITS = 40
Ref: TypeAlias = "int | tuple[int, str]"
"""Where a row came from, compactly: ``source << LINE_BITS | line`` for ``<source>:<line>`` origins, else
``(source, suffix)``: the origin is the source's prefix followed by the suffix."""


def source_of(ref: Ref) -> int:
    """The source number of a :data:`Ref`."""
    return ref >> LINE_BITS if isinstance(ref, int) else ref[0]


def redact(value: str, ref: str) -> str:
    """``"sk-A... [51 chars, ref 1f2e3d4c5b6a]"``: the first 4 characters (a quarter of values shorter than
    16), the length and ``ref``, a short tag that tells distinct values of one report apart."""
    keep = 4 if len(value) >= 16 else len(value) // 4
    return f"{value[:keep]}... [{len(value)} chars, ref {ref}]"


@dataclass(frozen=True)
class SourceSummary:
    """What one input gave: its ``rows`` and what was left out, by type or reason (never by value).

    ``unmapped``: entries with no kind of ours; ``ignored``: entries that are not indicators, and rows of
    kinds not selected (``kind not selected: <kind>``); ``invalid``: rows that do not canonicalize, by
    ``"<kind>: <reason>"``; ``refanged``: rows whose value refanging changed, by reason (``"[.] -> ."``).
    """

    name: str
    format: str
    rows: int
    unmapped: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    refanged: dict[str, int] = field(default_factory=dict)


def _abs_exclusion(spec: str) -> str:
    """``KIND=FILE`` with the file made absolute (later steps run elsewhere); ``shipped`` as it is."""
    kind, eq, path = spec.partition("=")
    return f"{kind}={os.path.abspath(path)}" if eq and path else spec


@dataclass(frozen=True)
class InputSpec:
    """How a set was read from files: enough to read the same set again, and no indicator value.

    ``paths`` are absolute; ``names`` are the paths as given (origins start with them).
    """

    paths: tuple[str, ...]
    names: tuple[str, ...]
    fmt: str = "auto"
    kind: str | None = None
    column: str | None = None
    kinds: tuple[str, ...] | None = None
    default_region: str | None = None
    errors: Literal["raise", "skip"] = "raise"
    misp_text: bool = False  # MISP free-text attributes are read only when asked (read_indicators)
    refang: bool | None = None  # None: refang the free-form formats only (read_indicators)
    canon_version: int = CANON_VERSION  # the canon version values are canonicalized under
    exclude: tuple[str, ...] = ()  # exclusion lists: "shipped" or "KIND=FILE" (blindmatch.exclusions)

    def __post_init__(self) -> None:
        check_canon_version(self.canon_version)
        if len(self.paths) != len(self.names) or not all(
            isinstance(p, str) for p in (*self.paths, *self.names)
        ):
            raise InvalidParameter("paths and names must be as many str")
        if self.fmt not in ("auto", *FORMATS):
            raise InvalidParameter(f"unknown input format {self.fmt!r} (auto or one of {', '.join(FORMATS)})")
        if self.errors not in ("raise", "skip"):
            raise InvalidParameter("errors must be 'raise' or 'skip'")
        if self.kinds is not None:
            bad = sorted(set(self.kinds) - set(kinds_of(self.canon_version)))
            if bad:
                raise InvalidParameter(f"unknown kind(s): {', '.join(bad)}")
        if self.refang is not None and not isinstance(self.refang, bool):
            raise InvalidParameter("refang must be None, True or False")
        for name in ("kind", "column", "default_region"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str):
                raise InvalidParameter(f"{name} must be a str")

    @classmethod
    def of(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        *,
        fmt: str = "auto",
        kind: str | None = None,
        column: str | None = None,
        kinds: Iterable[str] | None = None,
        default_region: str | None = None,
        errors: Literal["raise", "skip"] = "raise",
        misp_text: bool = False,
        refang: bool | None = None,
        canon_version: int = CANON_VERSION,
        exclude: Iterable[str] = (),
    ) -> InputSpec:
        if isinstance(paths, str | bytes | os.PathLike):
            raise InvalidParameter("paths must be an iterable of paths (a list, even of one)")
        given = [os.fspath(p) for p in paths]
        if not all(isinstance(p, str) for p in given):
            raise InvalidParameter("paths must be str or os.PathLike[str]")
        return cls(
            paths=tuple(os.path.abspath(p) for p in given),
            names=tuple(given),
            fmt=fmt,
            kind=kind,
            column=column,
            kinds=tuple(sorted(set(kinds))) if kinds is not None else None,
            default_region=default_region,
            errors=errors,
            misp_text=bool(misp_text),
            refang=None if refang is None else bool(refang),
            canon_version=canon_version,
            exclude=tuple(_abs_exclusion(x) for x in exclude),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": list(self.paths),
            "names": list(self.names),
            "format": self.fmt,
            "kind": self.kind,
            "column": self.column,
            "kinds": list(self.kinds) if self.kinds is not None else None,
            "default_region": self.default_region,
            "errors": self.errors,
            "misp_text": self.misp_text,
            "refang": self.refang,
            "canon_version": self.canon_version,
            "exclude": list(self.exclude),
        }

    @classmethod
    def from_dict(cls, d: Any) -> InputSpec:
        """Raises :class:`~blindmatch.InvalidParameter` for anything but a dict :meth:`to_dict` made."""
        try:
            kinds = d["kinds"]
            return cls(
                paths=tuple(d["paths"]),
                names=tuple(d["names"]),
                fmt=d["format"],
                kind=d["kind"],
                column=d["column"],
                kinds=tuple(kinds) if kinds is not None else None,
                default_region=d["default_region"],
                errors=d["errors"],
                misp_text=d.get("misp_text", False) is True,
                # a specification saved before refanging existed was read without it
                refang=d.get("refang", False),
                canon_version=d.get("canon_version", 1),  # saved before canon 2: version 1
                exclude=tuple(d.get("exclude", ())),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidParameter(f"not an input specification ({exc})") from None


@dataclass(frozen=True, eq=False)
class PsiItems:
    """The PSI items of an :class:`~blindmatch.IndicatorSet`: its :class:`~blindmatch.psi.IndicatorItems`
    (distinct items, kinds sorted, the map back), the form sessions take as ``indicators=``.

    With near-duplicate matching ``profile`` is the fingerprint profile and ``prompts`` the prompts' band
    items (kind ``prompt-band`` replaces ``prompt`` in ``kinds``).
    """

    indicators: IndicatorItems = field(repr=False)
    profile: FingerprintProfile | None = None
    prompts: PromptItems | None = field(default=None, repr=False)

    @cached_property
    def items(self) -> list[bytes]:
        """The distinct item bytes, kinds sorted (``indicators.items``, listed once)."""
        return self.indicators.items

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.indicators.kinds

    def __len__(self) -> int:
        return len(self.indicators)

    @property
    def manifest_profile(self) -> str | None:
        """The profile tag a manifest names: only when band items take part."""
        return self.profile.tag if self.profile is not None and BAND_KIND in self.kinds else None


@dataclass(frozen=True, order=True)
class IndicatorMatch:
    """One of our indicators that matched, with the origin of every row that gave it."""

    kind: str
    canonical: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class PromptNearMatch:
    """One of our prompts with a near-duplicate on the other side (see
    :class:`~blindmatch.fingerprints.PromptMatch` for the band counts and the similarity estimate)."""

    canonical: str
    origins: tuple[str, ...]
    bands_matched: int
    bands: int
    similarity: float
    similarity_low: float
    similarity_high: float


@dataclass(frozen=True)
class SetMatches:
    """Matched items mapped back: exact matches sorted by kind and value, near-duplicate prompts by the
    number of bands matched (most first)."""

    exact: tuple[IndicatorMatch, ...]
    near_duplicates: tuple[PromptNearMatch, ...] = ()

    def by_kind(self) -> dict[str, list[IndicatorMatch]]:
        out: dict[str, list[IndicatorMatch]] = {}
        for m in self.exact:
            out.setdefault(m.kind, []).append(m)
        return out
