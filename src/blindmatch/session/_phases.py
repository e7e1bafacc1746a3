"""What a session party holds in each phase, as immutable values.

* :class:`Facts` -- the public facts a party has learned or shown so far (manifest, peer, declared
  sizes). They grow as the handshake goes on, survive the end of the session and feed its record; a
  ``None`` is something not reached (the record shows ``null``).
* The working data of one phase, dropped (with every secret in it) when the session ends:
  :class:`Proposal` (initiator before the accept), :class:`Listening` (responder before the hello) and
  :class:`Established` (both, once traffic keys exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..psi import IndicatorItems
from .channel import Opener, Sealer
from .manifest import Manifest
from .result import ResultContext

__all__ = ["Established", "Facts", "Listening", "Opening", "Proposal"]

P = TypeVar("P")


@dataclass(frozen=True)
class Facts:
    """Public facts for the record; ``None`` until known."""

    session_id: bytes | None = None
    manifest: Manifest | None = None
    peer_key: bytes | None = None
    peer_name: str | None = None
    own_size: int | None = None
    own_padded: int | None = None
    peer_padded: int | None = None
    responder_padding: str | None = None  # the rule the responder states in its accept


@dataclass(frozen=True, repr=False)
class Opening:
    """What a party's commitment commits to (docs/audit.md): its seed and padded list (sorted), with its
    real items; kept until the session ends, then sealed into the audit package or dropped."""

    seed: bytes
    items: tuple[bytes, ...]
    padded: tuple[bytes, ...]
    commitment: bytes


@dataclass(frozen=True, repr=False)
class Proposal:
    """Initiator, until the accept: the manifest it proposes, the set it will send, and the party's seed
    (its ephemeral key, dummies and PSI randomness derive from it)."""

    manifest: Manifest
    peer_key: bytes
    peer_name: str | None
    items: list[bytes]
    indicators: IndicatorItems | None  # what the own items come from (raw items: None)
    own_padded: int
    seed: bytes
    padded: list[bytes]  # the items followed by the seed's dummies: the list the PSI party gets


@dataclass(frozen=True, repr=False)
class Listening:
    """Responder, until the hello: its items (raw, or indicators: only the manifest's kinds will be used)
    and the party's seed."""

    items: IndicatorItems | list[bytes]
    seed: bytes


@dataclass(frozen=True, repr=False)
class Established(Generic[P]):
    """Both roles, once the traffic keys exist: keys, the PSI party, and what a result needs."""

    ctx: ResultContext
    sealer: Sealer
    opener: Opener
    psi: P = field()
    seed: bytes = b""
    request: bytes = b""  # initiator: the PSI request sent, kept for save_state until the response
