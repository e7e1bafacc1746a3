"""The application layer: from indicator files (or iterables) to PSI items, and back to a local report.

:class:`IndicatorSet` is the one way from inputs to results:

1. it reads input files (:func:`~blindmatch.inputs.read_indicators`, every format) or takes iterables,
   and counts per source what was unmapped, ignored or invalid (by type and reason, never by value);
2. it canonicalizes with :func:`~blindmatch.canonical.canonicalize_many`, per kind and in batches;
3. it keeps every distinct ``(kind, canonical)`` once, with the origin of every row that gave it, never
   the spelling: memory grows with the rows' origins, not with how their values were written;
4. it gives the PSI items (:meth:`IndicatorSet.psi_items`, optionally with prompts replaced by
   near-duplicate band items) and keeps the one map back from item bytes;
5. it maps matched items back to indicators and origins (:meth:`IndicatorSet.matches`) and builds the
   local report (:meth:`IndicatorSet.report`), reading the spellings again from the input files, only
   for the matched rows. Values of :data:`SENSITIVE_KINDS` are redacted in reports.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ._indicator_helpers import _CHUNK, _check_errors, _chunks, _matched_items, _reason
from ._indicator_report import build_report
from ._indicator_types import (
    LINE_BITS,
    MAX_PROBLEMS,
    SENSITIVE_KINDS,
    IndicatorMatch,
    InputSpec,
    PromptNearMatch,
    PsiItems,
    Ref,
    SetMatches,
    SourceSummary,
    redact,
)
from .canonical import CANON_VERSION, canonicalize_many, check_canon_version
from .errors import InvalidIndicator, InvalidInputs, InvalidParameter
from .exclusions import Exclusions
from .fingerprints import FingerprintProfile, PromptItems, PromptMatch, get_profile, prompt_items
from .inputs import read_indicators
from .inputs._account import for_canon
from .inputs.refang import refangs
from .outputs import LocalReport
from .psi import IndicatorItems, PsiResult
from .session import SessionResult

__all__ = [
    "MAX_PROBLEMS",
    "SENSITIVE_KINDS",
    "IndicatorMatch",
    "IndicatorSet",
    "InputSpec",
    "PromptNearMatch",
    "PsiItems",
    "SetMatches",
    "SourceProgress",
    "SourceSummary",
    "redact",
]

Errors = Literal["raise", "skip"]

SourceProgress: TypeAlias = Callable[[str, int, int], None]
"""``progress(source, done, total)``: rows of ``source`` canonicalized so far, of ``total``."""

_LINE_BITS = LINE_BITS
_LINE_MASK = (1 << LINE_BITS) - 1
Row: TypeAlias = "tuple[str, str, str]"  # (kind, value, origin as written by the reader or the caller)


@dataclass(frozen=True)
class _Source:
    label: str  # the name in summaries
    prefix: str  # what origins start with
    path: str | None  # a file to read again for spellings; None for iterables
    fmt: str
    kind: str | None = None
    column: str | None = None
    misp_text: bool = False
    refang: bool = False  # whether its rows were refanged (as resolved for its format)


@dataclass
class _Counts:
    ignored: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (row number, text), row order


class IndicatorSet:
    """Distinct canonical indicators with the origins of the rows that gave them.

    Build one with :meth:`from_files`, :meth:`from_values` or :meth:`from_rows`. ``len(s)`` counts
    distinct ``(kind, canonical)`` pairs. Per-source summaries are in :attr:`sources`, totals in
    :attr:`invalid`, :attr:`unmapped`, :attr:`ignored`; the first :data:`MAX_PROBLEMS` invalid rows (by
    origin and reason) in :attr:`problems`. A set is not changed after it is built.
    """

    def __init__(
        self,
        *,
        default_region: str | None = None,
        kinds: Iterable[str] | None = None,
        canon_version: int = CANON_VERSION,
    ) -> None:
        self._canon = check_canon_version(canon_version)
        self._exclusions: Exclusions | None = None  # benign values left out (blindmatch.exclusions)
        self._region = default_region
        self._only = frozenset(kinds) if kinds is not None else None
        self._index: dict[str, dict[str, int]] = {}  # kind -> canonical -> entry number
        self._entries: list[tuple[str, str]] = []  # entry number -> (kind, canonical)
        self._rec_entry = array("q")  # per row that canonicalized: its entry ...
        self._rec_origin: list[Ref] = []  # ... and where it came from
        self._sources: list[_Source] = []
        self._summaries: list[SourceSummary] = []
        self._problems: list[str] = []
        self._indicators: IndicatorItems | None = None  # every kind's items and the one map back
        self._psi_cache: dict[tuple[str, str] | None, PsiItems] = {}
        self._redact_key = os.urandom(32)  # per set: redaction refs link rows of one set only
        self.spec: InputSpec | None = None

    def __repr__(self) -> str:
        return f"<IndicatorSet {len(self)} distinct indicators of {len(self.kinds)} kind(s)>"

    @property
    def canon_version(self) -> int:
        """The canon version the values were canonicalized under."""
        return self._canon

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        *,
        fmt: str = "auto",
        kind: str | None = None,
        column: str | None = None,
        kinds: Iterable[str] | None = None,
        default_region: str | None = None,
        errors: Errors = "raise",
        progress: SourceProgress | None = None,
        misp_text: bool = False,
        refang: bool | None = None,
        canon_version: int = CANON_VERSION,
        exclude: Iterable[str] = (),
    ) -> IndicatorSet:
        """Read and canonicalize indicator files (every format of :func:`~blindmatch.read_indicators`).

        ``fmt``, ``kind``, ``column``, ``misp_text`` (MISP free text is read only when true) and ``refang``
        (default: refang network kinds in free-form formats) are passed to the reader; ``kinds`` selects
        the kinds that take
        part (rows of other kinds are counted as ignored, ``kind not selected: <kind>``).
        ``default_region`` is for national phone numbers. With ``errors="raise"`` (default) rows that do
        not canonicalize raise :class:`~blindmatch.errors.InvalidInputs` once every file is read; with
        ``"skip"`` they are left out and counted. A file that cannot be read raises
        :class:`~blindmatch.errors.InputUnreadable`, a malformed one :class:`~blindmatch.MalformedFile`.
        ``canon_version`` is the canon version values are canonicalized under (the PSI items and a session
        manifest carry it; canon 2 knows more kinds and rules, docs/canonicalization.md). ``exclude``
        names exclusion lists (``"shipped"`` or ``"KIND=FILE"``, docs/exclusions.md): values they list
        are left out and counted as ignored (``excluded: <list>``).
        """
        spec = InputSpec.of(
            paths, fmt=fmt, kind=kind, column=column, kinds=kinds, default_region=default_region,
            errors=errors, misp_text=misp_text, refang=refang, canon_version=canon_version, exclude=exclude,
        )  # fmt: skip
        return cls.from_spec(spec, progress=progress)

    @classmethod
    def from_spec(cls, spec: InputSpec, *, progress: SourceProgress | None = None) -> IndicatorSet:
        """Read the files ``spec`` names, as :meth:`from_files` did when it made ``spec``."""
        out = cls(default_region=spec.default_region, kinds=spec.kinds, canon_version=spec.canon_version)
        out._exclusions = Exclusions.from_specs(spec.exclude, canon_version=spec.canon_version)
        out.spec = spec
        for path, name in zip(spec.paths, spec.names, strict=True):
            batch = read_indicators(path, fmt=spec.fmt, kind=spec.kind, column=spec.column, source=name,
                                    misp_text=spec.misp_text, refang=spec.refang)  # fmt: skip
            src = out._add_source(
                _Source(name, name, path, batch.format, spec.kind, spec.column, spec.misp_text,
                        refangs(spec.refang, batch.format))
            )  # fmt: skip
            counts = _Counts()
            done = 0
            for rows in out._kind_groups(batch.rows, counts):
                out._ingest(src, batch.rows, rows, out._file_refs(src), counts)
                done += len(rows)
                if progress is not None:
                    progress(name, done, len(batch.rows))
            if progress is not None:
                progress(name, len(batch.rows), len(batch.rows))
            out._end_source(src, len(batch.rows), counts, batch.unmapped, batch.ignored, batch.refanged)
        out._finish(spec.errors)
        return out

    @classmethod
    def from_values(
        cls,
        kind: str,
        values: Iterable[str],
        *,
        source: str = "values",
        default_region: str | None = None,
        errors: Errors = "raise",
        canon_version: int = CANON_VERSION,
    ) -> IndicatorSet:
        """Values of one kind; the origin of value number ``n`` (from 1) is ``"<source>:<n>"``."""
        _check_errors(errors)
        out = cls(default_region=default_region, canon_version=canon_version)
        src = out._add_source(_Source(source, source, None, "values", kind))
        counts = _Counts()
        n = 0
        for chunk in _chunks(values):
            rows = [(kind, v, "") for v in chunk]
            base = n

            def ref(i: int, _origin: str, base: int = base) -> Ref:
                return (src << _LINE_BITS) | (base + i + 1)

            out._ingest(src, rows, list(range(len(rows))), ref, counts, base=base)
            n += len(rows)
        out._end_source(src, n, counts)
        out._finish(errors)
        return out

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Row],
        *,
        source: str = "rows",
        kinds: Iterable[str] | None = None,
        default_region: str | None = None,
        errors: Errors = "raise",
        canon_version: int = CANON_VERSION,
    ) -> IndicatorSet:
        """Rows ``(kind, value, origin)`` (e.g. :class:`~blindmatch.InputRow`); origins kept as given."""
        _check_errors(errors)
        out = cls(default_region=default_region, kinds=kinds, canon_version=canon_version)
        src = out._add_source(_Source(source, "", None, "rows"))
        counts = _Counts()
        n = 0
        for chunk in _chunks(rows):
            for row in chunk:
                if not (isinstance(row, tuple) and len(row) == 3 and isinstance(row[2], str)):
                    raise InvalidParameter("rows must be (kind, value, origin) tuples with a str origin")
            for group in out._kind_groups(chunk, counts):
                out._ingest(src, chunk, group, lambda _i, origin: (src, origin), counts, base=n)
            n += len(chunk)
        out._end_source(src, n, counts)
        out._finish(errors)
        return out

    def _add_source(self, src: _Source) -> int:
        self._sources.append(src)
        return len(self._sources) - 1

    def _file_refs(self, src: int) -> Callable[[int, str], Ref]:
        prefix = self._sources[src].prefix

        def ref(_i: int, origin: str) -> Ref:
            if not origin.startswith(prefix):
                raise InvalidParameter("a record's origin does not start with its source")
            rest = origin[len(prefix) :]
            digits = rest[1:]
            if rest[:1] == ":" and digits.isascii() and digits.isdigit() and not digits.startswith("0"):
                return (src << _LINE_BITS) | int(digits)
            return (src, rest)

        return ref

    def _kind_groups(self, rows: Sequence[Row], counts: _Counts) -> Iterator[list[int]]:
        """Row numbers per kind (kinds in order of first appearance), in batches of at most ``_CHUNK``
        rows; rows of kinds not selected are counted."""
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            k = row[0]
            if self._only is not None and k not in self._only:
                counts.ignored[f"kind not selected: {k}"] += 1
                continue
            groups.setdefault(k, []).append(i)
        for group in groups.values():
            for start in range(0, len(group), _CHUNK):
                yield group[start : start + _CHUNK]

    def _ingest(
        self,
        src: int,
        rows: Sequence[Row],
        group: list[int],
        ref: Callable[[int, str], Ref],
        counts: _Counts,
        *,
        base: int = 0,
    ) -> None:
        """Canonicalize the rows ``group`` (all of one kind) in one batch and keep what canonicalizes."""
        kind = rows[group[0]][0]
        values = [rows[i][1] for i in group]
        if kind == "account" and self._canon == 1:  # numeric ids as canon 1 read them (inputs/_account.py)
            values = [for_canon(v, 1) for v in values]
        try:
            batch = canonicalize_many(
                kind, values, errors="skip", default_region=self._region, version=self._canon
            )
        except InvalidIndicator as exc:  # a kind canonicalization does not know
            counts.invalid[f"{kind}: {exc.reason}"] += len(group)
            for i in group[:MAX_PROBLEMS]:
                counts.problems.append((base + i, self._problem(ref(i, rows[i][2]), kind, exc.reason)))
            return
        table = self._index.setdefault(kind, {})
        entries, rec_entry, rec_origin = self._entries, self._rec_entry, self._rec_origin
        exclusions = self._exclusions
        for j, canon in zip(batch.indices, batch.values, strict=True):
            if exclusions is not None and (listed := exclusions.reason(kind, canon)) is not None:
                counts.ignored[f"excluded: {listed}"] += 1  # a benign value: not offered, counted
                continue
            entry = table.get(canon)
            if entry is None:
                entry = table[canon] = len(entries)
                entries.append((kind, canon))
            i = group[j]
            rec_entry.append(entry)
            rec_origin.append(ref(i, rows[i][2]))
        for reason, n in batch.skipped_by_reason.items():
            counts.invalid[f"{kind}: {reason}"] += n
        if batch.skipped:
            kept = set(batch.indices)
            bad = [j for j in range(len(values)) if j not in kept][:MAX_PROBLEMS]
            for j in bad:
                i = group[j]
                why = _reason(kind, values[j], self._region, self._canon)
                counts.problems.append((base + i, self._problem(ref(i, rows[i][2]), kind, why)))

    def _problem(self, ref: Ref, kind: str, reason: str) -> str:
        return f"{self._origin_text(ref)}: invalid {kind} indicator: {reason}"

    def _end_source(
        self,
        src: int,
        rows: int,
        counts: _Counts,
        unmapped: Counter[str] | None = None,
        ignored: Counter[str] | None = None,
        refanged: Counter[str] | None = None,
    ) -> None:
        s = self._sources[src]
        all_ignored = Counter(ignored or {}) + counts.ignored
        self._summaries.append(
            SourceSummary(
                s.label, s.fmt, rows, dict(sorted((unmapped or {}).items())),
                dict(sorted(all_ignored.items())), dict(sorted(counts.invalid.items())),
                dict(sorted((refanged or {}).items())),
            )
        )  # fmt: skip
        room = MAX_PROBLEMS - len(self._problems)
        self._problems.extend(text for _, text in sorted(counts.problems)[: max(room, 0)])

    def _finish(self, errors: str) -> None:
        _check_errors(errors)
        if errors == "raise" and self.invalid:
            raise InvalidInputs(self.invalid, self.problems)

    # -- what the set holds --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds with at least one value, sorted."""
        return tuple(sorted(k for k, t in self._index.items() if t))

    def values(self, kind: str) -> list[str]:
        """The distinct canonical values of ``kind``, in the order first read."""
        return list(self._index.get(kind, {}))

    def distinct_per_kind(self) -> dict[str, int]:
        return {k: len(self._index[k]) for k in self.kinds}

    def rows_per_kind(self) -> dict[str, int]:
        """Rows kept (those that canonicalized), per kind."""
        per_entry = Counter(self._rec_entry)
        out: Counter[str] = Counter()
        for e, n in per_entry.items():
            out[self._entries[e][0]] += n
        return dict(sorted(out.items()))

    @property
    def rows(self) -> int:
        """Rows read, from every source (valid or not, selected or not)."""
        return sum(s.rows for s in self._summaries)

    @property
    def sources(self) -> tuple[SourceSummary, ...]:
        return tuple(self._summaries)

    def _total(self, what: str) -> dict[str, int]:
        c: Counter[str] = Counter()
        for s in self._summaries:
            c.update(getattr(s, what))
        return dict(sorted(c.items()))

    @property
    def invalid(self) -> dict[str, int]:
        """Rows that do not canonicalize, by ``"<kind>: <reason>"``."""
        return self._total("invalid")

    @property
    def unmapped(self) -> dict[str, int]:
        return self._total("unmapped")

    @property
    def ignored(self) -> dict[str, int]:
        return self._total("ignored")

    @property
    def refanged(self) -> dict[str, int]:
        """Rows whose value refanging changed, by reason (``"[.] -> ."``)."""
        return self._total("refanged")

    @property
    def problems(self) -> tuple[str, ...]:
        """The first invalid rows: ``"<origin>: invalid <kind> indicator: <reason>"``."""
        return tuple(self._problems)

    def summary(self) -> dict[str, Any]:
        """What was read, for reports (the ``inputs`` section of the local report): no values."""
        return {
            "files": [{"file": s.name, "format": s.format, "rows": s.rows} for s in self._summaries],
            "distinct_per_kind": self.distinct_per_kind(),
            "invalid": self.invalid,
            "unmapped": self.unmapped,
            "ignored": self.ignored,
            "refanged": self.refanged,
            "exclusions": self._exclusions.names() if self._exclusions is not None else [],
        }

    def _origin_text(self, ref: Ref) -> str:
        if isinstance(ref, int):
            return f"{self._sources[ref >> _LINE_BITS].prefix}:{ref & _LINE_MASK}"
        return self._sources[ref[0]].prefix + ref[1]

    def origins(self, kind: str, canonical: str) -> list[str]:
        """Every origin of the rows that gave ``(kind, canonical)``, in reading order (empty if none)."""
        entry = self._index.get(kind, {}).get(canonical)
        if entry is None:
            return []
        return [self._origin_text(r) for r in self._refs_of({entry}).get(entry, [])]

    def _refs_of(self, entries: set[int]) -> dict[int, list[Ref]]:
        out: dict[int, list[Ref]] = {}
        if entries:
            for e, r in zip(self._rec_entry, self._rec_origin, strict=True):
                if e in entries:
                    out.setdefault(e, []).append(r)
        return out

    def digest(self, key: bytes) -> bytes:
        """HMAC-SHA-256 under ``key`` of every row kept (kind, canonical value, origin), in reading order.

        Equal for the same inputs read the same way; keyed, so that it confirms no guessed set.
        """
        if not isinstance(key, bytes) or len(key) < 16:
            raise InvalidParameter("key must be at least 16 bytes")
        mac = hmac.new(key, b"blindmatch/indicator-set/v1", hashlib.sha256)
        for e, r in zip(self._rec_entry, self._rec_origin, strict=True):
            kind, canon = self._entries[e]
            for part in (kind, canon, self._origin_text(r)):
                b = part.encode("utf-8", "surrogatepass")
                mac.update(len(b).to_bytes(8, "big") + b)
        return mac.digest()

    # -- PSI items and the way back ------------------------------------------------------------------

    def _exact(self) -> IndicatorItems:
        """The items of every ``(kind, canonical)`` (made once): the one map back from item bytes."""
        if self._indicators is None:
            self._indicators = IndicatorItems(
                {k: self._index[k] for k in self.kinds}, canon_version=self._canon
            )
        return self._indicators

    def psi_items(self, near_duplicates: str | FingerprintProfile | None = None) -> PsiItems:
        """The distinct PSI items (:func:`~blindmatch.psi.indicator_item`), kinds sorted, values in reading
        order; with ``near_duplicates`` (a fingerprint profile) prompts are replaced by their
        ``prompt-band`` items (prompts that cannot be fingerprinted are left out and counted).
        ``psi_items().indicators`` is what a session takes as ``indicators=``."""
        profile = get_profile(near_duplicates) if near_duplicates is not None else None
        key = (profile.name, profile.tag) if profile is not None else None
        cached = self._psi_cache.get(key)
        if cached is not None:
            return cached
        exact = self._exact()
        prompts: PromptItems | None = None
        if profile is not None and "prompt" in exact.kinds:
            exact = exact.select(k for k in exact.kinds if k != "prompt")
            prompts = prompt_items(self.values("prompt"), profile, errors="skip")
            if prompts.items:
                bands = IndicatorItems(prompts.items_by_kind, canon_version=self._canon)
                exact = IndicatorItems.combine([exact, bands])
        out = PsiItems(exact, profile, prompts)
        self._psi_cache[key] = out
        return out

    def items_by_kind(self, near_duplicates: str | FingerprintProfile | None = None) -> dict[str, list[str]]:
        """The values behind :meth:`psi_items` per kind (canonical values; band values for prompt bands):
        the form a session's ``items_by_kind`` takes."""
        return self.psi_items(near_duplicates).indicators.items_by_kind()

    def _resolve(
        self,
        matched: Iterable[bytes] | PsiResult | SessionResult,
        near_duplicates: str | FingerprintProfile | None,
    ) -> tuple[dict[int, list[Ref]], list[tuple[int, PromptMatch, list[Ref]]]]:
        """Matched items to ``{entry: refs}`` of exact matches and ``(entry, match, refs)`` of prompts."""
        back = self._exact()
        pi = self.psi_items(near_duplicates) if near_duplicates is not None else None
        exact: set[int] = set()
        bands: list[bytes] = []
        for it in _matched_items(matched):
            pair = back.indicator_of(it)
            if pair is not None:
                exact.add(self._index[pair[0]][pair[1]])
            elif pi is not None and pi.prompts is not None:
                bands.append(it)
            else:
                raise InvalidParameter("a matched item is not one of this set's items")
        near: list[tuple[int, PromptMatch]] = []
        if bands and pi is not None and pi.prompts is not None:
            prompt_values, table = self.values("prompt"), self._index["prompt"]
            near = [(table[prompt_values[m.index]], m) for m in pi.prompts.matches(bands)]
        refs = self._refs_of(exact | {e for e, _ in near})
        return {e: refs.get(e, []) for e in exact}, [(e, m, refs.get(e, [])) for e, m in near]

    def matches(
        self,
        matched: Iterable[bytes] | PsiResult | SessionResult,
        near_duplicates: str | FingerprintProfile | None = None,
    ) -> SetMatches:
        """Matched item bytes (``SessionResult.matched_items``, ``PsiResult.matched``, or the bytes
        themselves) back to our indicators with every origin; band items (with ``near_duplicates``, the
        profile given to :meth:`psi_items`) to our near-duplicate prompts.

        Raises :class:`~blindmatch.InvalidParameter` for an item that is not one of this set's, or a
        result that carries no items.
        """
        exact, near = self._resolve(matched, near_duplicates)
        text = self._origin_text
        out_exact = sorted(IndicatorMatch(*self._entries[e], tuple(map(text, rs))) for e, rs in exact.items())
        out_near = [
            PromptNearMatch(
                self._entries[e][1], tuple(map(text, rs)), m.bands_matched, m.bands,
                m.similarity, m.similarity_low, m.similarity_high,
            )
            for e, m, rs in near
        ]  # fmt: skip
        out_near.sort(key=lambda n: (-n.bands_matched, n.origins))
        return SetMatches(tuple(out_exact), tuple(out_near))

    # -- the local report ----------------------------------------------------------------------------

    def report(
        self,
        result: SessionResult | PsiResult,
        *,
        near_duplicates: str | FingerprintProfile | None = None,
        started: float | None = None,
        finished: float | None = None,
    ) -> LocalReport:
        """The local report of one exchange of this set's :meth:`psi_items` (same ``near_duplicates``).

        One match per input row, its value as written: read again from the input file (a file that no
        longer holds it raises :class:`~blindmatch.errors.InputChanged`), the canonical form for sets built
        from iterables. Values of :data:`SENSITIVE_KINDS` are redacted (:func:`redact`), canonical too.
        """
        return build_report(self, result, near_duplicates=near_duplicates, started=started, finished=finished)

    def _shown(self, kind: str, canonical: str) -> str:
        """A canonical value as reports show it: redacted for :data:`SENSITIVE_KINDS`."""
        if kind in SENSITIVE_KINDS:
            tag = hmac.new(self._redact_key, f"{kind}\0{canonical}".encode(), hashlib.sha256).hexdigest()
            return redact(canonical, tag[:12])
        return canonical
