"""Cheating strategies a malicious peer can run against an unmodified honest party (issue 12, item 6).

Every strategy is a subclass of the honest session class (:class:`InitiatorSession` or
:class:`ResponderSession`) that changes only the PSI party it builds or how that party computes; the session
layer still signs, encrypts and frames every cheating payload exactly as it frames honest ones, so the
honest peer accepts every message and ends ``completed``. Each cheating party keeps what it learned in its
``loot`` (:class:`Loot`; the session itself drops its PSI party when it ends), including every PSI payload
it sent or received, in order.

Strategies (``ATTACKS`` maps each name to ``(cheating role, modes, run)``; ``run(mode, seed=...)`` plays one
session on the standard sets below and returns ``(initiator, responder, wire)``):

``per-item-scalars-initiator`` (cardinality, mutual-cardinality)
    The initiator blinds its item ``x_i`` with its own scalar ``a_i`` (the request still holds valid,
    distinct, canonical points). The response holds the responder's ``Y_j = b·H(y_j)`` and the sorted
    hashes ``h(b·a_i·H(x_i))``; the initiator hashes ``a_i·Y_j`` for every ``(i, j)`` (``n_a·n_b`` X25519)
    and a hit in the sorted list means ``x_i == y_j``. Gains: WHICH of its items are shared, where the mode
    promises only their number. In mutual-cardinality it answers with a confirm built from the same hits,
    so the responder's count is right too: nothing looks wrong to either honest record.
``per-item-scalars-responder`` (mutual-cardinality)
    The mirror: the responder blinds ``y_j`` with ``b_j``; the confirm holds ``h(a·b_j·H(y_j))``, and the
    responder hashes ``b_j·X_i`` for every ``(i, j)``. Gains: which of its items are shared. Side effect:
    no ``Y_j`` carries the scalar of the response hashes, so the honest initiator's count reads 0.
``forged-hashes-responder`` (all modes)
    The responder answers with random comparison hashes for the initiator's items but keeps the true ones
    to itself. The initiator finds 0 matches, still sends the confirm (mutual modes), from which the
    responder learns its own result as usual. Gains: its result while the peer gets none; both records say
    ``completed``, with contradicting counts. In intersection and cardinality it is pure sabotage.
``lying-confirm-initiator`` (mutual, mutual-cardinality)
    The initiator learns its result honestly, then sends a confirm that denies the real matches (random
    hashes there) and claims non-shared positions (with response hashes of its own unshared items, which
    the responder recognises as matches). Gains: its result while the responder believes a false one.
``swapped-set-initiator`` / ``swapped-set-responder`` (all modes)
    The session is made with set S (what it sizes, pads and records, and what a commitment would cover)
    while the PSI party runs on another set S' of at most the padded size. Gains: results about S'.
``guesses-as-dummies-initiator`` / ``guesses-as-dummies-responder`` (all modes)
    The padding slots hold real guesses instead of dummies: the party probes more items than its real set
    while its declared sizes look like honest padding. Gains: whether its guesses are in the peer's set.
``reused-scalar-initiator`` / ``reused-scalar-responder`` (all modes)
    The party blinds with the same scalar in every session (the initiator a fixed PSI seed instead of the
    derived one, which also fixes its PSI session id; the responder a fixed scalar instead of the
    request-bound one). Gains: blinding done once for all sessions; its peers (and anyone they share
    transcripts with) can link its items across sessions, which honest parties never allow.

Each strategy is deterministic: its own choices derive from the party's seed under labels of this module.
Only public or underscore-internal APIs of the library are used; nothing under ``src/`` is changed.

Internals the overrides rely on (keep them, or update this module with them):

* session, every strategy: ``InitiatorSession._psi_party(own, mode, seed, peer_padded) -> (psi, request)``
  with ``own`` the real items then the dummies and ``seed`` the session seed (``RecordingInitiator``);
  ``ResponderSession._accept(ctx, eph_peer)`` leaving an ``Established`` in ``_work`` whose ``psi`` (its
  ``_items``: real items then dummies) and ``seed`` are read and whose ``psi`` is replaced
  (``RecordingResponder``); ``_phase``, ``_executor``; ``session._seeded.psi_seed`` and ``dummies``;
  ``padding.DUMMY_PREFIX``; the session driving ``start``/``finish`` and ``respond``/``finish`` and
  reading ``psi.result``.
* PSI party: ``_blind_own(scalar, order)`` (per-item, reused scalar), ``_blind_peer(scalar, elements,
  key)`` (reused scalar), ``Initiator._finish`` (per-item, lying confirm), ``Responder._respond`` (forged
  hashes), ``Responder._finish`` (per-item); the attributes ``_seed _order _sid _mode _m1 _m2 _output
  _result _their_hashes _peer_size _max_peer_items`` and ``_matched``; ``psi._base._compare_key``,
  ``_transcript_hash``, ``DST_HASH_TO_GROUP``; ``psi._seeded.party_scalar``; the ``psi._wire`` codecs;
  ``hazmat.group``'s ``blind``, ``blind_and_hash``, ``hash_to_group``, ``clamp_scalar``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from session_support import ALICE, BOB, Clock, seeded_rng, step, trust

from blindmatch._derive import derive_key
from blindmatch.hazmat.group import blind, blind_and_hash, clamp_scalar, hash_to_group
from blindmatch.psi import MODES, Mode, PsiResult, indicator_item, mode_spec
from blindmatch.psi import Initiator as PsiInitiator
from blindmatch.psi import Responder as PsiResponder
from blindmatch.psi._base import DST_HASH_TO_GROUP, _compare_key, _transcript_hash
from blindmatch.psi._seeded import party_scalar
from blindmatch.psi._wire import (
    HASH_BYTES,
    MAX_COUNT,
    encode_confirm,
    encode_response,
    parse_confirm,
    parse_request,
    parse_response,
)
from blindmatch.session import AuditTerms, Identity, InitiatorSession, Policy, ResponderSession
from blindmatch.session._phases import Established
from blindmatch.session._seeded import dummies, psi_seed
from blindmatch.session.padding import DUMMY_PREFIX
from blindmatch.session.result import ResultContext

__all__ = [
    "ATTACKS",
    "AUDIT",
    "A_ONLY",
    "A_VALUES",
    "B_ONLY",
    "B_VALUES",
    "COUNT_MODES",
    "GUESSES_A",
    "GUESSES_B",
    "MUTUAL_MODES",
    "SHARED",
    "SWAPPED_A",
    "SWAPPED_B",
    "Attack",
    "AttackRun",
    "ForgedHashesResponder",
    "GuessesAsDummiesInitiator",
    "GuessesAsDummiesResponder",
    "Loot",
    "LyingConfirmInitiator",
    "PerItemScalarInitiator",
    "PerItemScalarResponder",
    "RecordingInitiator",
    "RecordingResponder",
    "ReusedScalarResponder",
    "ReusedSeedInitiator",
    "SwappedSetInitiator",
    "SwappedSetResponder",
    "forged_hashes_responder",
    "guesses_as_dummies_initiator",
    "guesses_as_dummies_responder",
    "items",
    "lying_confirm_initiator",
    "per_item_scalars_initiator",
    "per_item_scalars_responder",
    "request_elements",
    "response_elements",
    "reused_scalar_initiator",
    "reused_scalar_responder",
    "run_attack",
    "swapped_set_initiator",
    "swapped_set_responder",
]

# Labels of the cheaters' own derived choices (never one of the library's labels).
LABEL_PER_ITEM = b"tests/audit_attacks/v1 per-item scalar"
LABEL_FORGED = b"tests/audit_attacks/v1 forged hash"
LABEL_LIE = b"tests/audit_attacks/v1 lying confirm"

COUNT_MODES: tuple[str, ...] = ("cardinality", "mutual-cardinality")
MUTUAL_MODES: tuple[str, ...] = ("mutual", "mutual-cardinality")

# The standard sets: 12 vs 30 items (padded to 16 and 32 by pow2), 5 shared.
KIND = "email"
SHARED = [f"shared{i}@example.org" for i in range(5)]
A_ONLY = [f"a{i}@lab-a.example" for i in range(7)]
B_ONLY = [f"b{i}@lab-b.example" for i in range(25)]
A_VALUES = A_ONLY + SHARED
B_VALUES = SHARED + B_ONLY
# What the swapping / guessing cheaters run with instead (see the runners).
SWAPPED_A = A_ONLY + B_ONLY[:3]  # S' for the initiator: none of the shared items, three of B's own
SWAPPED_B = SHARED[:2] + A_ONLY[:4] + B_ONLY  # S' for the responder: four of A's own, not 3 of the shared
GUESSES_A = [B_ONLY[0], "nobody@nowhere.example", B_ONLY[1], B_ONLY[2]]  # fills the initiator's 4 slots
GUESSES_B = [A_ONLY[0], "nobody@nowhere.example"]  # fills the responder's 2 slots
DEFAULT_SEED = b"attack"
FIXED_PSI_SEED = bytes(range(32))  # the reusing cheaters' one seed for every session


def items(values: Iterable[str]) -> list[bytes]:
    """The PSI items of email indicators (what a cheater gives as raw ``items=``)."""
    return [indicator_item(KIND, v) for v in values]


@dataclass
class Loot:
    """What a cheating party keeps after its session ends.

    ``psi_wire``: the PSI payloads it handled, in order (request, response, then the confirm if any).
    ``matched_items``: the own real items it knows to be shared although the mode gives it only their
    number (per-item strategies), or the true result it keeps while lying about it (lying confirm in mode
    mutual); ``None`` otherwise (the other cheaters' gains are in their session result).
    ``notes``: strategy details (e.g. how many matches a lying confirm denied and claimed).
    """

    psi_wire: list[bytes] = field(default_factory=list)
    matched_items: list[bytes] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _real(found: Iterable[bytes]) -> list[bytes]:
    return [x for x in found if not x.startswith(DUMMY_PREFIX)]


def _item_scalars(seed: bytes, n: int) -> list[bytes]:
    """One clamped scalar per position of the own list (the per-item cheaters' blinding)."""
    return [clamp_scalar(derive_key(seed, LABEL_PER_ITEM, i)) for i in range(n)]


def _blind_each(scalars: Sequence[bytes], order: Sequence[bytes]) -> list[bytes]:
    """``X25519(s_i, H(x_i))``: valid, distinct, canonical points, each under its own scalar."""
    points = hash_to_group(order, DST_HASH_TO_GROUP)
    return [blind(s, [u])[0] for s, u in zip(scalars, points, strict=True)]


def _probe(
    scalars: Sequence[bytes], peer_elements: list[bytes], key: bytes, observed: set[bytes]
) -> dict[int, tuple[int, bytes]]:
    """``{own position i: (peer position j, hash)}`` for every ``h(s_i·E_j)`` found in ``observed``."""
    found: dict[int, tuple[int, bytes]] = {}
    for i, s in enumerate(scalars):
        for j, h in enumerate(blind_and_hash(s, key, peer_elements)):
            if h in observed:
                found[i] = (j, h)
    return found


def _random_hashes(seed: bytes, label: bytes, n: int) -> list[bytes]:
    return [derive_key(seed, label, i)[:HASH_BYTES] for i in range(n)]


# --- PSI parties: honest unless a subclass overrides a step; every one records its payloads ----------------


class _PsiInitiator(PsiInitiator):
    def __init__(self, *args: Any, loot: Loot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loot = loot

    def start(self) -> bytes:
        out = super().start()
        self.loot.psi_wire.append(out)
        return out

    def finish(self, response: bytes) -> bytes | None:
        out = super().finish(response)
        self.loot.psi_wire.append(bytes(response))
        if out is not None:
            self.loot.psi_wire.append(out)
        return out


class _PsiResponder(PsiResponder):
    def __init__(self, *args: Any, loot: Loot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loot = loot

    def respond(self, request: bytes) -> bytes:
        out = super().respond(request)
        self.loot.psi_wire += [bytes(request), out]
        return out

    def finish(self, confirm: bytes) -> None:
        super().finish(confirm)
        self.loot.psi_wire.append(bytes(confirm))


class PerItemScalarPsiInitiator(_PsiInitiator):
    """Blinds item ``i`` with ``a_i``; recovers which items matched from the (sorted) response hashes."""

    def _blind_own(self, scalar: bytes, order: list[bytes]) -> list[bytes]:
        del scalar  # the request-wide scalar a is not used: each item has its own
        return _blind_each(_item_scalars(self._seed, len(order)), order)

    def _finish(self, response: bytes) -> bytes | None:
        msg = parse_response(response, self._max_peer_items, len(self._order))
        key = _compare_key(self._sid)
        scalars = _item_scalars(self._seed, len(self._order))
        found = _probe(scalars, msg.elements, key, set(msg.hashes))  # n_a·n_b X25519
        hit = {self._order[i] for i in found}
        self.loot.matched_items = _real(self._matched(hit))
        m3 = None
        if mode_spec(self._mode).confirm:
            # what an honest confirm would make the responder count: for a shared Y_j the hash it knows,
            # for the others a hash it cannot know (a_0·Y_j)
            by_peer = dict(found.values())
            other = blind_and_hash(scalars[0], key, msg.elements)
            hashes = sorted(by_peer.get(j, other[j]) for j in range(len(other)))
            m3 = encode_confirm(self._mode, self._sid, hashes)
        th = _transcript_hash(self._m1, response, m3 or b"")
        self._result = PsiResult(self._mode, None, len(hit), len(self._order), len(msg.elements), th)
        return m3


class PerItemScalarPsiResponder(_PsiResponder):
    """Blinds item ``j`` with ``b_j``; recovers which items matched from the (sorted) confirm."""

    def _blind_own(self, scalar: bytes, order: list[bytes]) -> list[bytes]:
        del scalar  # the response hashes still use the request-bound b (_blind_peer stays honest)
        return _blind_each(_item_scalars(self._seed, len(order)), order)

    def _finish(self, confirm: bytes) -> None:
        mode = self._mode
        if mode is None:  # pragma: no cover - AWAIT_CONFIRM implies a mode
            raise AssertionError("no mode")
        msg = parse_confirm(confirm, len(self._order))
        request = parse_request(self._m1, self._max_peer_items)
        scalars = _item_scalars(self._seed, len(self._order))
        found = _probe(scalars, request.elements, _compare_key(self._sid), set(msg.hashes))
        hit = {self._order[j] for j in found}
        self.loot.matched_items = _real(self._matched(hit))
        th = _transcript_hash(self._m1, self._m2, confirm)
        self._result = PsiResult(mode, None, len(hit), len(self._order), self._peer_size, th)
        self._their_hashes = set()


class ForgedHashesPsiResponder(_PsiResponder):
    """Sends random comparison hashes; keeps the true ones (``_their_hashes``) for its own result."""

    def _respond(self, request: bytes) -> bytes:
        honest = super()._respond(request)
        msg = parse_response(honest, MAX_COUNT, self._peer_size)
        fake = _random_hashes(self._seed, LABEL_FORGED, msg.n_a)
        if mode_spec(msg.mode).permuted:
            fake.sort()  # an honest count-only answer is sorted by hash value
        forged = encode_response(msg.mode, msg.session_id, msg.n_a, msg.elements, fake)
        self._output = forged  # what a replayed request gets
        if self._m2:  # mutual modes: kept for the confirm's transcript hash
            self._m2 = forged
        if self._result is not None:  # intersection, cardinality: done already
            th = _transcript_hash(request, forged, b"")
            self._result = dataclasses.replace(self._result, transcript_hash=th)
        return forged


class LyingConfirmPsiInitiator(_PsiInitiator):
    """Learns honestly, then denies the real matches and claims ``claim`` unshared positions."""

    def __init__(self, *args: Any, claim: int, deny: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claim = claim
        self._deny = deny

    def _finish(self, response: bytes) -> bytes | None:
        honest = super()._finish(response)
        if honest is None:
            raise AssertionError("a lying confirm needs a mode with a confirm")
        msg = parse_response(response, self._max_peer_items, len(self._order))
        sent = parse_confirm(honest, len(msg.elements)).hashes
        theirs = set(msg.hashes)  # the responder matches the confirm against exactly these
        shared = [k for k, h in enumerate(sent) if h in theirs]
        unshared = [k for k, h in enumerate(sent) if h not in theirs]
        spare = [h for h in msg.hashes if h not in set(sent)]  # hashes of our unshared items
        lie = list(sent)
        if self._deny:
            for k, h in zip(shared, _random_hashes(self._seed, LABEL_LIE, len(shared)), strict=True):
                lie[k] = h
        claimed = list(zip(unshared[: self._claim], spare, strict=False))
        for k, h in claimed:
            lie[k] = h
        if mode_spec(self._mode).permuted:
            lie.sort()
        m3 = encode_confirm(self._mode, self._sid, lie)
        result = self.result
        self._result = dataclasses.replace(result, transcript_hash=_transcript_hash(self._m1, response, m3))
        self.loot.matched_items = result.matched
        self.loot.notes.update(denied=len(shared) if self._deny else 0, claimed=len(claimed))
        return m3


class FixedScalarPsiResponder(_PsiResponder):
    """Blinds with one fixed scalar in every session instead of the request-bound one."""

    def __init__(self, *args: Any, fixed_scalar: bytes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed = fixed_scalar

    def _blind_own(self, scalar: bytes, order: list[bytes]) -> list[bytes]:
        return super()._blind_own(self._fixed, order)

    def _blind_peer(self, scalar: bytes, elements: list[bytes], key: bytes) -> list[bytes]:
        return super()._blind_peer(self._fixed, elements, key)


# --- session parties: honest framing around the PSI party of the strategy ---------------------------------


class RecordingInitiator(InitiatorSession):
    """An :class:`InitiatorSession` whose PSI party is ``psi_class`` over ``_psi_items(own, seed)`` with
    seed ``_psi_seed(seed)`` and options ``_psi_options()``; honest with the defaults (it then only
    records its PSI payloads in ``loot``). Items given raw (``items=``), as a cheater's result may hold
    items outside any indicator set."""

    psi_class: type[_PsiInitiator] = _PsiInitiator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loot = Loot()

    def _psi_items(self, own: list[bytes], seed: bytes) -> list[bytes]:
        return own

    def _psi_seed(self, seed: bytes) -> bytes:
        return psi_seed(seed)

    def _psi_options(self) -> dict[str, Any]:
        return {}

    def _psi_party(
        self, own: list[bytes], mode: Mode, seed: bytes, peer_padded: int
    ) -> tuple[PsiInitiator, bytes]:
        psi = self.psi_class(
            self._psi_items(own, seed), mode, seed=self._psi_seed(seed), executor=self._executor,
            max_peer_items=peer_padded, loot=self.loot, **self._psi_options(),
        )  # fmt: skip
        return psi, psi.start()


class RecordingResponder(ResponderSession):
    """The responder counterpart of :class:`RecordingInitiator`: after the honest ``_accept`` (which pads,
    sends the accept and derives the keys) the PSI party is replaced by ``psi_class`` over
    ``_psi_items(own, seed)``, ``own`` being the padded list the honest party was given."""

    psi_class: type[_PsiResponder] = _PsiResponder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loot = Loot()

    def _psi_items(self, own: list[bytes], seed: bytes) -> list[bytes]:
        return own

    def _psi_seed(self, seed: bytes) -> bytes:
        return psi_seed(seed)

    def _psi_options(self) -> dict[str, Any]:
        return {}

    def _accept(self, ctx: ResultContext, eph_peer: bytes) -> bytes:
        out = super()._accept(ctx, eph_peer)
        work: Established[PsiResponder] = self._phase(Established)
        own = list(work.psi._items)  # our real items and dummies, as the honest party got them
        psi = self.psi_class(
            self._psi_items(own, work.seed), allowed_modes=(ctx.manifest.mode,),
            seed=self._psi_seed(work.seed), executor=self._executor, max_peer_items=ctx.peer_padded,
            loot=self.loot, **self._psi_options(),
        )  # fmt: skip
        self._work = dataclasses.replace(work, psi=psi)
        return out


def _swap(own: list[bytes], other: Sequence[bytes], seed: bytes) -> list[bytes]:
    """``other`` padded with the session's own dummies to the size of ``own`` (the declared padded size)."""
    if len(other) > len(own):
        raise ValueError("the other set must fit the padded size the session declares")
    return list(other) + dummies(seed, len(own) - len(other))


def _fill_dummies(own: list[bytes], guesses: Sequence[bytes]) -> list[bytes]:
    """``own`` with its first dummies replaced by ``guesses`` (as many as there are dummy slots)."""
    real = [x for x in own if not x.startswith(DUMMY_PREFIX)]
    slots = [x for x in own if x.startswith(DUMMY_PREFIX)]
    used = list(guesses)[: len(slots)]
    return real + used + slots[len(used) :]


class PerItemScalarInitiator(RecordingInitiator):
    psi_class = PerItemScalarPsiInitiator


class PerItemScalarResponder(RecordingResponder):
    psi_class = PerItemScalarPsiResponder


class ForgedHashesResponder(RecordingResponder):
    psi_class = ForgedHashesPsiResponder


class LyingConfirmInitiator(RecordingInitiator):
    psi_class = LyingConfirmPsiInitiator

    def __init__(self, *args: Any, claim: int = 4, deny: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lie = {"claim": claim, "deny": deny}

    def _psi_options(self) -> dict[str, Any]:
        return dict(self._lie)


class SwappedSetInitiator(RecordingInitiator):
    def __init__(self, *args: Any, psi_items: Iterable[bytes], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._other = list(psi_items)

    def _psi_items(self, own: list[bytes], seed: bytes) -> list[bytes]:
        return _swap(own, self._other, seed)


class SwappedSetResponder(RecordingResponder):
    def __init__(self, *args: Any, psi_items: Iterable[bytes], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._other = list(psi_items)

    def _psi_items(self, own: list[bytes], seed: bytes) -> list[bytes]:
        return _swap(own, self._other, seed)


class GuessesAsDummiesInitiator(RecordingInitiator):
    def __init__(self, *args: Any, guesses: Iterable[bytes], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guesses = list(guesses)

    def _psi_items(self, own: list[bytes], seed: bytes) -> list[bytes]:
        return _fill_dummies(own, self._guesses)


class GuessesAsDummiesResponder(RecordingResponder):
    def __init__(self, *args: Any, guesses: Iterable[bytes], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guesses = list(guesses)

    def _psi_items(self, own: list[bytes], seed: bytes) -> list[bytes]:
        return _fill_dummies(own, self._guesses)


class ReusedSeedInitiator(RecordingInitiator):
    """Gives its PSI party one fixed seed (hence one scalar ``a`` and one PSI session id) in every session."""

    def __init__(self, *args: Any, fixed_seed: bytes = FIXED_PSI_SEED, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_seed = fixed_seed

    def _psi_seed(self, seed: bytes) -> bytes:
        return self._fixed_seed


class ReusedScalarResponder(RecordingResponder):
    """Blinds with ``party_scalar(fixed_seed, "responder")`` in every session (not bound to the request)."""

    psi_class = FixedScalarPsiResponder

    def __init__(self, *args: Any, fixed_seed: bytes = FIXED_PSI_SEED, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_scalar = party_scalar(fixed_seed, "responder")

    def _psi_options(self) -> dict[str, Any]:
        return {"fixed_scalar": self._fixed_scalar}


# --- running a session -------------------------------------------------------------------------------------


class AttackRun(NamedTuple):
    """One session played to its end: ``(initiator, responder, wire)`` (the wire as sent, in order)."""

    initiator: InitiatorSession
    responder: ResponderSession
    wire: list[bytes]

    @property
    def cheater(self) -> RecordingInitiator | RecordingResponder:
        if isinstance(self.initiator, RecordingInitiator):
            return self.initiator
        if isinstance(self.responder, RecordingResponder):
            return self.responder
        raise AttributeError("no recording party in this run")

    @property
    def honest(self) -> InitiatorSession | ResponderSession:
        return self.responder if self.cheater is self.initiator else self.initiator

    @property
    def loot(self) -> Loot:
        return self.cheater.loot


#: Set by the audit tests (monkeypatch): every session of ``run_attack`` then names this auditor, and each
#: party (the cheater included: it is an honest session class underneath) escrows an audit package.
AUDIT: AuditTerms | None = None


def run_attack(
    mode: str,
    *,
    initiator_cls: type[InitiatorSession] = InitiatorSession,
    responder_cls: type[ResponderSession] = ResponderSession,
    a_values: Sequence[str] = A_VALUES,
    b_values: Sequence[str] = B_VALUES,
    seed: bytes = DEFAULT_SEED,
    responder: Identity = BOB,
    max_items: int = 64,
    initiator_kw: dict[str, Any] | None = None,
    responder_kw: dict[str, Any] | None = None,
) -> AttackRun:
    """ALICE (``initiator_cls``, set ``a_values``) against ``responder`` (``responder_cls``, ``b_values``),
    seeded by ``seed``, both padding pow2 under ``max_items``, played to the end. A recording (cheating)
    class gets its items raw, an honest one as indicators; the sets are the same either way."""
    clock = Clock()
    initiator_kw = {**(initiator_kw or {}), **({"audit": AUDIT} if AUDIT is not None else {})}
    a_given: dict[str, Any] = {"items_by_kind": {KIND: list(a_values)}}
    if issubclass(initiator_cls, RecordingInitiator):
        a_given = {"items": items(a_values), "kinds": (KIND,)}
    b_given: dict[str, Any] = {"items_by_kind": {KIND: list(b_values)}}
    if issubclass(responder_cls, RecordingResponder):
        b_given = {"items": items(b_values)}
    init = initiator_cls(
        ALICE, responder.public, mode=mode, max_items=max_items, padding="pow2", purpose="joint abuse review",
        rng=seeded_rng(b"init" + seed), clock=clock, **a_given, **initiator_kw,
    )  # fmt: skip
    resp = responder_cls(
        responder, trust(("alice", ALICE)),
        Policy(max_items_responder=max_items, auditor=AUDIT.auditor if AUDIT is not None else None),
        rng=seeded_rng(b"resp" + seed), clock=clock, **b_given, **(responder_kw or {}),
    )  # fmt: skip
    return AttackRun(init, resp, step(init, resp))


def request_elements(loot: Loot) -> list[bytes]:
    """The blinded elements of the PSI request in ``loot`` (what the responder saw)."""
    return parse_request(loot.psi_wire[0], MAX_COUNT).elements


def response_elements(loot: Loot) -> list[bytes]:
    """The responder's blinded elements in the PSI response in ``loot`` (what the initiator saw)."""
    n_a = len(request_elements(loot))
    return parse_response(loot.psi_wire[1], MAX_COUNT, n_a).elements


def per_item_scalars_initiator(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """Count-only modes: the initiator learns which of its items are shared (``loot.matched_items``)."""
    return run_attack(mode, initiator_cls=PerItemScalarInitiator, seed=seed)


def per_item_scalars_responder(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """mutual-cardinality: the responder learns which of its items are shared; the initiator's count is 0."""
    return run_attack(mode, responder_cls=PerItemScalarResponder, seed=seed)


def forged_hashes_responder(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The initiator finds nothing; in mutual modes the responder still learns its own result."""
    return run_attack(mode, responder_cls=ForgedHashesResponder, seed=seed)


def lying_confirm_initiator(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The initiator learns its result; the responder's is false (real matches denied, 4 claimed)."""
    return run_attack(mode, initiator_cls=LyingConfirmInitiator, seed=seed)


def swapped_set_initiator(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The initiator made with A runs the PSI with ``SWAPPED_A``: both results are about ``SWAPPED_A``."""
    return run_attack(mode, initiator_cls=SwappedSetInitiator, seed=seed,
                      initiator_kw={"psi_items": items(SWAPPED_A)})  # fmt: skip


def swapped_set_responder(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The responder made with B runs the PSI with ``SWAPPED_B``: both results are about ``SWAPPED_B``."""
    return run_attack(mode, responder_cls=SwappedSetResponder, seed=seed,
                      responder_kw={"psi_items": items(SWAPPED_B)})  # fmt: skip


def guesses_as_dummies_initiator(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The initiator's 4 padding slots hold ``GUESSES_A``: it learns which of them B holds."""
    return run_attack(mode, initiator_cls=GuessesAsDummiesInitiator, seed=seed,
                      initiator_kw={"guesses": items(GUESSES_A)})  # fmt: skip


def guesses_as_dummies_responder(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The responder's 2 padding slots hold ``GUESSES_B``: it learns (mutual modes) which A holds."""
    return run_attack(mode, responder_cls=GuessesAsDummiesResponder, seed=seed,
                      responder_kw={"guesses": items(GUESSES_B)})  # fmt: skip


def reused_scalar_initiator(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The initiator's PSI seed is ``FIXED_PSI_SEED`` whatever ``seed``: its request is linkable."""
    return run_attack(mode, initiator_cls=ReusedSeedInitiator, seed=seed)


def reused_scalar_responder(mode: str, *, seed: bytes = DEFAULT_SEED) -> AttackRun:
    """The responder's scalar is fixed whatever ``seed`` and the request: its response is linkable."""
    return run_attack(mode, responder_cls=ReusedScalarResponder, seed=seed)


class Attack(NamedTuple):
    """``(role, modes, run)``: the cheating role, the modes the strategy applies to, and
    ``run(mode, *, seed=...) -> AttackRun`` (an ``(initiator, responder, wire)`` tuple)."""

    role: str
    modes: tuple[str, ...]
    run: Callable[..., AttackRun]


ATTACKS: dict[str, Attack] = {
    "per-item-scalars-initiator": Attack("initiator", COUNT_MODES, per_item_scalars_initiator),
    "per-item-scalars-responder": Attack("responder", ("mutual-cardinality",), per_item_scalars_responder),
    "forged-hashes-responder": Attack("responder", MODES, forged_hashes_responder),
    "lying-confirm-initiator": Attack("initiator", MUTUAL_MODES, lying_confirm_initiator),
    "swapped-set-initiator": Attack("initiator", MODES, swapped_set_initiator),
    "swapped-set-responder": Attack("responder", MODES, swapped_set_responder),
    "guesses-as-dummies-initiator": Attack("initiator", MODES, guesses_as_dummies_initiator),
    "guesses-as-dummies-responder": Attack("responder", MODES, guesses_as_dummies_responder),
    "reused-scalar-initiator": Attack("initiator", MODES, reused_scalar_initiator),
    "reused-scalar-responder": Attack("responder", MODES, reused_scalar_responder),
}
