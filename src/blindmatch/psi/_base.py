"""What both PSI parties share: the result type, the state gate, progress, saved-state plumbing."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._derive import SEED_BYTES, new_seed
from .._progress import STAGE_BLIND_OWN, STAGE_BLIND_PEER, ProgressCallback
from ..errors import BlindmatchError, InvalidParameter, LocalProtocolError
from ..executors import map_elements, resolve_executor
from ..hazmat.group import SUITE_ID, InvalidGroupElement, blind_and_hash, hash_to_group_and_blind
from ._compare import matching_positions
from ._errors import StateAlreadyUsed, StateError
from ._modes import MODES, Mode, mode_spec
from ._seeded import items_mac
from ._state import REPLAY, TRANSITIONS, PartyState, SavedResult, _State, encode_state
from ._wire import MAX_COUNT, MODE_CODES, _as_bytes

if TYPE_CHECKING:
    from ..executors import Executor

__all__ = ["DEFAULT_MAX_PEER_ITEMS", "DST_HASH_TO_GROUP", "PsiResult"]

DEFAULT_MAX_PEER_ITEMS = 1 << 22

DST_HASH_TO_GROUP = SUITE_ID + b"/hash-to-group"
_DST_COMPARE = SUITE_ID + b"/compare-16"
_DST_TRANSCRIPT = SUITE_ID + b"/transcript"


@dataclass(frozen=True)
class PsiResult:
    """What one party learned.

    * ``matched``: the caller's own items that are in the intersection, every occurrence in input order and
      original form; ``None`` when the mode gives this party no items.
    * ``count``: the number of distinct shared items; ``None`` when the mode gives this party nothing (the
      responder in ``intersection`` and ``cardinality``).
    * ``own_size`` / ``peer_size``: distinct items of each side (what was sent on the wire).
    * ``transcript_hash``: 32 bytes both sides compute identically over all messages of the session.
    """

    mode: Mode
    matched: list[bytes] | None = field(repr=False)
    count: int | None
    own_size: int
    peer_size: int
    transcript_hash: bytes


def _compare_key(session_id: bytes) -> bytes:
    """The BLAKE2b key of the comparison hashes: SHA-256 of the suite's tag and the session id (the two
    together are longer than the 64 bytes a BLAKE2b key may have; both have fixed lengths)."""
    return hashlib.sha256(_DST_COMPARE + session_id).digest()


def _transcript_hash(*messages: bytes) -> bytes:
    h = hashlib.sha512(_DST_TRANSCRIPT)
    for m in messages:
        h.update(len(m).to_bytes(8, "big"))
        h.update(m)
    return h.digest()[:32]


def _distinct_hashes(hashes: list[bytes], what: str) -> None:
    if len(set(hashes)) != len(hashes):
        raise InvalidGroupElement(f"{what}: duplicated comparison hashes")


def _party_seed(seed: bytes | None, rng: Callable[[int], bytes] | None) -> bytes:
    if seed is None:
        return new_seed(rng)
    if rng is not None:
        raise InvalidParameter("give seed= or rng=, not both")
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InvalidParameter(f"seed must be {SEED_BYTES} bytes")
    return seed


_MODE_BY_CODE: dict[int, Mode] = {MODE_CODES[m]: m for m in MODES}


class _Party:
    _role = "party"

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        seed: bytes | None,
        rng: Callable[[int], bytes] | None,
        workers: int | None,
        executor: Executor | None,
        max_peer_items: int,
        progress: ProgressCallback | None,
    ) -> None:
        if progress is not None and not callable(progress):
            raise InvalidParameter("progress must be a callable (stage, done, total) or None")
        own = list(items)
        for x in own:
            if not isinstance(x, bytes):
                raise InvalidParameter("PSI items must be bytes (see blindmatch.psi.indicator_item)")
        self._executor = resolve_executor(workers, executor)  # the group work and the compare run here
        if (
            isinstance(max_peer_items, bool)
            or not isinstance(max_peer_items, int)
            or not (0 <= max_peer_items <= MAX_COUNT)
        ):
            raise InvalidParameter(f"max_peer_items must be an integer in [0, {MAX_COUNT}]")
        distinct = sorted(set(own))
        if len(distinct) > MAX_COUNT:
            raise InvalidParameter("too many items for one session")
        self._seed = _party_seed(seed, rng)
        self._items = own
        self._sorted = distinct  # the distinct items in byte order; the wire order is derived from it
        self._order: list[bytes] = []
        self._max_peer_items = max_peer_items
        self._progress = progress
        self._state = _State.READY
        self._result: PsiResult | None = None
        self._last_call = ""  # the last step that ran, the SHA-256 of what it consumed, what it returned
        self._consumed = b""
        self._output: bytes | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self._state.value} items={len(self._sorted)}>"

    @property
    def done(self) -> bool:
        """True once :attr:`result` is available."""
        return self._state is _State.DONE

    @property
    def failed(self) -> bool:
        return self._state is _State.FAILED

    @property
    def next_message_expected(self) -> str | None:
        """The next peer message this party needs: ``"request"``, ``"response"``, ``"confirm"`` or None."""
        return None

    @property
    def result(self) -> PsiResult:
        """The outcome; raises :class:`LocalProtocolError` until the protocol has finished."""
        if self._result is None:
            raise LocalProtocolError(f"the {self._role} has no result yet (state: {self._state.value})")
        return self._result

    def _gate(self, call: str, message: object) -> bool:
        """Apply the state table (:mod:`._state`) to ``call``; True means: replay the last output."""
        if self._state is _State.FAILED:
            raise LocalProtocolError(f"this {self._role} failed earlier and cannot be used again")
        action = TRANSITIONS.get((self._state, call))
        if action is None or (action[0] == REPLAY and self._last_call != call):
            self._fail_unless_done()
            raise LocalProtocolError(f"{call}() called in state {self._state.value}")
        if action[0] != REPLAY:
            return False
        digest = hashlib.sha256(_as_bytes(message)).digest()
        if not hmac.compare_digest(digest, self._consumed):
            self._fail_unless_done()
            raise StateAlreadyUsed(
                f"{call}(): this {self._role} already answered a different message; a second answer "
                "under the same secret scalar would give the peer an oracle"
            )
        return True

    def _fail_unless_done(self) -> None:
        if self._state is not _State.DONE:
            self._state = _State.FAILED  # a party refuses further use after any error

    def _stepped(self, state: _State, call: str, consumed: bytes | None, output: bytes | None) -> None:
        self._state = state
        self._last_call = call
        self._consumed = b"" if consumed is None else hashlib.sha256(consumed).digest()
        self._output = output

    def _reporter(self, stage: str) -> Callable[[int, int], None] | None:
        cb = self._progress
        if cb is None:
            return None

        def report(done: int, total: int) -> None:
            cb(stage, done, total)

        return report

    def _report(self, stage: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)

    def _blind_own(self, scalar: bytes, order: list[bytes]) -> list[bytes]:
        return map_elements(
            self._executor, hash_to_group_and_blind, (scalar, DST_HASH_TO_GROUP), order,
            self._reporter(STAGE_BLIND_OWN),
        )  # fmt: skip

    def _blind_peer(self, scalar: bytes, elements: list[bytes], key: bytes) -> list[bytes]:
        return map_elements(
            self._executor, blind_and_hash, (scalar, key), elements, self._reporter(STAGE_BLIND_PEER)
        )

    def _compare(self, probe: Sequence[bytes], table: Collection[bytes]) -> list[int]:
        """The positions of ``probe`` whose hash is in ``table`` (a partitioned join on the executor)."""
        return matching_positions(self._executor, probe, table)

    def _matched(self, hit: set[bytes]) -> list[bytes]:
        return [x for x in self._items if x in hit]

    # --- saved state ---

    def _params_hash(self) -> bytes:
        raise NotImplementedError

    def _mode_code(self) -> int:
        raise NotImplementedError

    def _held_messages(self) -> tuple[bytes, ...]:
        raise NotImplementedError

    def save_state(self) -> bytes:
        """The party's state, to restore it for its next step (see ``docs/protocol.md``, "State files").

        It holds the secret seed (protect it like a private key), the messages the next step needs, what
        the last step consumed and returned, and a keyed hash of the item set; never an item value.
        """
        if self._state is _State.FAILED:
            raise LocalProtocolError(f"this {self._role} failed and cannot be saved")
        return encode_state(PartyState(
            self._role, self._state, self._mode_code(), self._params_hash(), self._seed,
            items_mac(self._seed, self._sorted), len(self._sorted), self._held_messages(),
            self._last_call, self._consumed, self._output, self._saved_result(),
        ))  # fmt: skip

    def _saved_result(self) -> SavedResult | None:
        r = self._result
        if r is None:
            return None
        bitmap = None
        if r.matched is not None:
            hit = set(r.matched)
            bits = bytearray((len(self._sorted) + 7) // 8)
            for i, x in enumerate(self._sorted):
                if x in hit:
                    bits[i >> 3] |= 1 << (i & 7)
            bitmap = bytes(bits)
        return SavedResult(r.count, r.own_size, r.peer_size, r.transcript_hash, bitmap)

    def _apply(self, st: PartyState) -> None:
        """Take over a decoded state after checking it fits this party's role, parameters and items."""
        if st.role != self._role:
            raise StateError(f"this saved PSI state belongs to the {st.role}, not the {self._role}")
        if not hmac.compare_digest(st.params_hash, self._params_hash()):
            raise StateError("this PSI state was saved with other parameters (mode, max_peer_items, suite)")
        mac = items_mac(self._seed, self._sorted)
        if st.n_items != len(self._sorted) or not hmac.compare_digest(st.items_mac, mac):
            raise StateError("the items given differ from the items this PSI state was saved with")
        expected = {_State.READY: "", _State.AWAIT_RESPONSE: "start", _State.AWAIT_CONFIRM: "respond"}
        if st.state in expected and st.last_call != expected[st.state]:
            raise StateError("saved PSI state: inconsistent step")
        if (st.state is _State.DONE) != (st.result is not None):
            raise StateError("saved PSI state: inconsistent result")
        self._last_call, self._consumed, self._output = st.last_call, st.consumed, st.output
        try:
            self._apply_role(st)
        except StateError:
            raise
        except BlindmatchError as exc:  # our own stored messages failed to parse: not our state
            raise StateError(f"saved PSI state: inconsistent content ({type(exc).__name__})") from None
        self._state = st.state

    def _apply_role(self, st: PartyState) -> None:
        raise NotImplementedError

    def _restored_result(self, mode: Mode, r: SavedResult) -> PsiResult:
        learns = mode_spec(mode).learns(self._role)
        if (r.matched_bitmap is not None) != (learns == "intersection"):
            raise StateError("saved PSI state: inconsistent result")
        matched = None
        if r.matched_bitmap is not None:
            bits = r.matched_bitmap
            hit = {x for i, x in enumerate(self._sorted) if bits[i >> 3] >> (i & 7) & 1}
            matched = self._matched(hit)
        return PsiResult(mode, matched, r.count, r.own_size, r.peer_size, r.transcript_hash)
