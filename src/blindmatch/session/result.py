"""The local report of a completed session (:class:`SessionResult`) and how it is made from a PSI result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ..psi import IndicatorItems
from .errors import PaddingViolation
from .identity import PublicIdentity
from .manifest import Manifest
from .padding import DUMMY_PREFIX

__all__ = ["SessionResult", "make_result"]


@dataclass(frozen=True)
class SessionResult:
    """The local report of a completed session (never shared: it may hold the matched indicators).

    ``learned`` is ``"intersection"``, ``"count"`` or ``"nothing"``. ``matched`` lists the own
    ``(kind, canonical)`` indicators that are shared (sessions built from ``indicators`` or ``items_by_kind``,
    mapped back through :class:`~blindmatch.psi.IndicatorItems`), and
    ``matched_items`` the own item byte strings that are shared (every session); both are ``None`` unless
    this party learns the intersection. ``count`` is ``None`` when this party learns nothing. Sizes are
    distinct items; the padded ones are the only sizes the peer saw or showed.
    """

    role: str
    session_id: bytes
    mode: str
    learned: str
    matched: list[tuple[str, str]] | None
    matched_items: list[bytes] | None
    count: int | None
    own_size: int
    own_padded_size: int
    peer_padded_size: int
    transcript_hash: bytes
    peer: PublicIdentity
    peer_name: str | None
    manifest: Manifest


class PsiOutcome(Protocol):
    """What a session reads from a PSI party's result (``blindmatch.psi.PsiResult``)."""

    @property
    def peer_size(self) -> int: ...
    @property
    def count(self) -> int | None: ...
    @property
    def matched(self) -> list[bytes] | None: ...


def _distinct_real(items: Iterable[bytes]) -> list[bytes]:
    """Matched items without dummies (they never match, but a result never shows one) and repeats."""
    seen: set[bytes] = set()
    out: list[bytes] = []
    for it in items:
        if not it.startswith(DUMMY_PREFIX) and it not in seen:
            seen.add(it)
            out.append(it)
    return out


@dataclass(frozen=True)
class ResultContext:
    """What a party knows once the handshake is over, besides the PSI result."""

    role: str
    manifest: Manifest
    peer_key: bytes
    peer_name: str | None
    own_size: int
    own_padded: int
    peer_padded: int
    indicators: IndicatorItems | None  # what the own items come from (raw items: None)


def make_result(ctx: ResultContext, psi_result: PsiOutcome | None, transcript_hash: bytes) -> SessionResult:
    """The :class:`SessionResult` for a PSI result; the peer's list must have its declared size."""
    m = ctx.manifest
    learned = m.learns(ctx.role)
    matched: list[tuple[str, str]] | None = None
    matched_items: list[bytes] | None = None
    count: int | None = None
    if psi_result is not None and psi_result.peer_size != ctx.peer_padded:
        raise PaddingViolation(f"the peer sent {psi_result.peer_size} items but declared {ctx.peer_padded}")
    if psi_result is not None and learned != "nothing":
        count = int(psi_result.count or 0)
        if learned == "intersection":
            matched_items = _distinct_real(psi_result.matched or [])
            count = len(matched_items)
            if ctx.indicators is not None:
                matched = ctx.indicators.map_back(matched_items)
    return SessionResult(
        role=ctx.role,
        session_id=m.session_id,
        mode=m.mode,
        learned=learned,
        matched=matched,
        matched_items=matched_items,
        count=count,
        own_size=ctx.own_size,
        own_padded_size=ctx.own_padded,
        peer_padded_size=ctx.peer_padded,
        transcript_hash=transcript_hash,
        peer=PublicIdentity(ctx.peer_key),
        peer_name=ctx.peer_name,
        manifest=m,
    )
