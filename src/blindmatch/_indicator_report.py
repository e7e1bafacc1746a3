"""The local report of an :class:`~blindmatch.IndicatorSet`: matched items back to rows, spellings read
again from the input files (only the matched rows'), sensitive values redacted."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeAlias

from ._indicator_types import SENSITIVE_KINDS, Ref, source_of
from .canonical import canonicalize
from .errors import InputChanged, InvalidIndicator, InvalidParameter, MalformedFile
from .fingerprints import FingerprintProfile, get_profile
from .inputs import read_indicators, refang
from .inputs._account import for_canon
from .outputs import LocalReport, Match, NearDuplicate
from .psi import PsiResult
from .session import SessionResult

if TYPE_CHECKING:
    from .indicator_set import IndicatorSet

__all__ = ["build_report", "learned_items"]

Key: TypeAlias = "tuple[int, Ref]"  # (entry, where the row came from)


def learned_items(result: SessionResult | PsiResult) -> tuple[str, list[bytes] | None]:
    """What this side learned (``intersection``, ``count`` or ``nothing``) and its matched items."""
    if isinstance(result, SessionResult):
        return result.learned, result.matched_items
    if isinstance(result, PsiResult):
        if result.matched is not None:
            return "intersection", result.matched
        return ("count" if result.count is not None else "nothing"), None
    raise InvalidParameter("result must be a SessionResult or a PsiResult")


def build_report(
    iset: IndicatorSet,
    result: SessionResult | PsiResult,
    *,
    near_duplicates: str | FingerprintProfile | None,
    started: float | None,
    finished: float | None,
) -> LocalReport:
    """See :meth:`IndicatorSet.report`."""
    learned, items = learned_items(result)
    exact, near = iset._resolve(items, near_duplicates) if items is not None else ({}, [])
    wanted = [(e, r) for e, rs in exact.items() for r in rs] + [(e, r) for e, _, rs in near for r in rs]
    shown = _spellings(iset, wanted)
    text = iset._origin_text
    matches = []
    for e, rs in exact.items():
        kind, canon = iset._entries[e]
        matches += [Match(kind, shown[(e, r)], iset._shown(kind, canon), text(r)) for r in rs]
    matches.sort(key=lambda m: (m.kind, m.canonical, m.origin))
    near_rows = [
        NearDuplicate(
            shown[(e, r)], iset._entries[e][1], text(r), m.bands_matched, m.bands,
            round(m.similarity, 4), round(m.similarity_low, 4), round(m.similarity_high, 4),
        )
        for e, m, rs in near
        for r in rs
    ]  # fmt: skip
    near_rows.sort(key=lambda n: (-n.bands_matched, n.origin))
    profile = get_profile(near_duplicates) if near_duplicates is not None else None
    s = result if isinstance(result, SessionResult) else None
    p = result if isinstance(result, PsiResult) else None
    return LocalReport(
        mode=result.mode,
        count=result.count,
        own_size=result.own_size,
        peer_padded_size=s.peer_padded_size if s is not None else p.peer_size if p is not None else None,
        matches=matches,
        peer=s.peer_name if s is not None else None,
        peer_fingerprint=s.peer.fingerprint if s is not None else None,
        learned=learned,
        own_padded_size=s.own_padded_size if s is not None else result.own_size,
        session_id=s.session_id.hex() if s is not None else None,
        transcript_hash=result.transcript_hash.hex(),
        inputs=iset.summary(),
        started=started,
        finished=finished if finished is not None else time.time(),
        prompt_profile={"name": profile.name, "tag": profile.tag} if profile is not None else None,
        near_duplicates=near_rows,
        canon_version=iset.canon_version,
    )


def _spellings(iset: IndicatorSet, wanted: list[Key]) -> dict[Key, str]:
    """``(entry, ref) -> value as shown``: read again from the files that hold them, redacted for the
    sensitive kinds, the canonical form where no file holds them."""
    shown: dict[Key, str] = {}
    per_source: dict[int, dict[Ref, set[int]]] = {}
    for e, r in wanted:
        src = source_of(r)
        kind, canon = iset._entries[e]
        if kind in SENSITIVE_KINDS or iset._sources[src].path is None:
            shown[(e, r)] = iset._shown(kind, canon)
        else:
            per_source.setdefault(src, {}).setdefault(r, set()).add(e)
    for src, refs in per_source.items():
        shown.update(_reread(iset, src, refs))
    return shown


def _reread(iset: IndicatorSet, src: int, wanted: dict[Ref, set[int]]) -> dict[Key, str]:
    s = iset._sources[src]
    if s.path is None:  # pragma: no cover - only file sources are read again
        raise InvalidParameter("no file to read")
    try:
        batch = read_indicators(s.path, fmt=s.fmt, kind=s.kind, column=s.column, source=s.prefix,
                                misp_text=s.misp_text, refang=False)  # fmt: skip
    except MalformedFile as exc:
        raise InputChanged(f"{s.prefix} changed since it was read: {exc}") from None
    ref_of = iset._file_refs(src)
    found: dict[Key, str] = {}
    for rec in batch.rows:
        r = ref_of(0, rec.origin)
        entries = wanted.get(r)
        if entries is None:
            continue
        value = refang(rec.kind, rec.value)[0] if s.refang else rec.value  # as read: shown as written
        try:
            value = for_canon(value, iset.canon_version)
            canon = canonicalize(rec.kind, value, default_region=iset._region, version=iset.canon_version)
        except InvalidIndicator:
            continue
        e = iset._index.get(rec.kind, {}).get(canon)
        if e is not None and e in entries:
            found.setdefault((e, r), rec.value)
    missing = [iset._origin_text(r) for r, es in wanted.items() for e in es if (e, r) not in found]
    if missing:
        raise InputChanged(
            f"{s.prefix} changed since it was read: {min(missing)} no longer holds what it held"
        )
    return found
