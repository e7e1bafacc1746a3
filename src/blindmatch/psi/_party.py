"""The two PSI parties: one state machine, sans-I/O (bytes in, bytes out).

::

    init = Initiator(items, mode="mutual")        resp = Responder(items, allowed_modes=("mutual",))
    m1 = init.start()              ------------>  m2 = resp.respond(m1)
    m3 = init.finish(m2)           <------------
    (m3 is None unless mutual)     ------------>  resp.finish(m3)
    init.result                                   resp.result

See ``docs/protocol.md`` for the messages and what each party learns in each mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .._progress import STAGE_COMPARE, ProgressCallback
from ..errors import InvalidParameter, LocalProtocolError
from ..hazmat.group import validate_peer_elements
from ._base import (
    _MODE_BY_CODE,
    DEFAULT_MAX_PEER_ITEMS,
    PsiResult,
    _compare_key,
    _distinct_hashes,
    _Party,
    _transcript_hash,
)
from ._errors import ModeNotAllowed, StateError, UnexpectedMessage
from ._modes import MODES, Mode, mode_spec
from ._seeded import own_order, party_scalar, session_id
from ._state import PartyState, _State, decode_state, params_hash
from ._wire import (
    MAX_COUNT,
    MODE_CODES,
    _as_bytes,
    encode_confirm,
    encode_request,
    encode_response,
    parse_confirm,
    parse_request,
    parse_response,
)

if TYPE_CHECKING:
    from ..executors import Executor

__all__ = [
    "DEFAULT_MAX_PEER_ITEMS",
    "Initiator",
    "PsiResult",
    "Responder",
    "run_in_memory",
]


class Initiator(_Party):
    """The party that starts: picks the mode and the session id, and learns the (first) result.

    ``seed`` (32 bytes) determines every random choice (``docs/protocol.md``, "Randomness"); without it
    the party draws one from ``rng`` (default ``os.urandom``). Give one or the other, not both.

    ``workers=N`` (local processes) or ``executor=`` (a :class:`blindmatch.executors.Executor`, e.g. the
    lab's own Dask cluster, which then holds the items and the secret scalar: ``docs/scaling-dask.md``)
    runs the hashing, blinding and compare work; the messages and results never depend on it.
    """

    _role = "initiator"

    def __init__(
        self,
        items: Iterable[bytes],
        mode: Mode = "intersection",
        *,
        seed: bytes | None = None,
        rng: Callable[[int], bytes] | None = None,
        workers: int | None = None,
        executor: Executor | None = None,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        progress: ProgressCallback | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidParameter(f"unknown PSI mode; expected one of {', '.join(MODES)}")
        super().__init__(
            items, seed=seed, rng=rng, workers=workers, executor=executor, max_peer_items=max_peer_items,
            progress=progress,
        )  # fmt: skip
        self._mode: Mode = mode
        self._sid = b""
        self._m1 = b""

    @classmethod
    def restore_state(
        cls,
        state: bytes,
        items: Iterable[bytes],
        mode: Mode = "intersection",
        *,
        workers: int | None = None,
        executor: Executor | None = None,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        progress: ProgressCallback | None = None,
    ) -> Initiator:
        """An initiator in the state :meth:`save_state` wrote, for the same items and parameters.

        Raises :class:`StateError` if the blob is corrupt or foreign, or if the items or the parameters
        differ from those it was saved with.
        """
        st = decode_state(state)
        party = cls(
            items, mode, seed=st.seed, workers=workers, executor=executor, max_peer_items=max_peer_items,
            progress=progress,
        )  # fmt: skip
        party._apply(st)
        return party

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def next_message_expected(self) -> str | None:
        return "response" if self._state is _State.AWAIT_RESPONSE else None

    def _params_hash(self) -> bytes:
        return params_hash("initiator", [MODE_CODES[self._mode]], self._max_peer_items)

    def _mode_code(self) -> int:
        return MODE_CODES[self._mode]

    def _held_messages(self) -> tuple[bytes, ...]:
        return (self._m1,) if self._state is _State.AWAIT_RESPONSE else ()

    def _apply_role(self, st: PartyState) -> None:
        if st.mode_code != MODE_CODES[self._mode]:
            raise StateError("saved PSI state: inconsistent mode")
        if st.state is _State.AWAIT_RESPONSE:
            if len(st.messages) != 1:
                raise StateError("saved PSI state: the request is missing")
            self._sid = session_id(self._seed)
            self._order = own_order(self._seed, "initiator", self._sorted)
            req = parse_request(st.messages[0], MAX_COUNT)
            if req.session_id != self._sid or len(req.elements) != len(self._order) or req.mode != self._mode:
                raise StateError("saved PSI state: the request does not fit the seed and items")
            self._m1 = st.messages[0]
        elif st.result is not None:
            self._result = self._restored_result(self._mode, st.result)
        elif st.state is not _State.READY or st.messages:
            raise StateError("saved PSI state: not an initiator's state")

    def start(self) -> bytes:
        """Build the request (message 1)."""
        self._gate("start", None)
        try:
            self._sid = session_id(self._seed)
            self._order = own_order(self._seed, "initiator", self._sorted)
            blinded = self._blind_own(party_scalar(self._seed, "initiator"), self._order)
            self._m1 = encode_request(self._mode, self._sid, blinded)
        except BaseException:
            self._state = _State.FAILED
            raise
        self._stepped(_State.AWAIT_RESPONSE, "start", None, None)
        return self._m1

    def finish(self, response: bytes) -> bytes | None:
        """Process the response (message 2); returns the confirm (message 3) in mutual modes, else None.

        Afterwards :attr:`result` is set. Given the same response again, it returns the same confirm
        (without new work); a different one raises :class:`StateAlreadyUsed`.
        """
        if self._gate("finish", response):
            return self._output
        try:
            out = self._finish(response)
        except BaseException:
            self._state = _State.FAILED
            raise
        self._stepped(_State.DONE, "finish", _as_bytes(response), out)
        self._m1 = b""
        return out

    def _finish(self, response: bytes) -> bytes | None:
        n_a = len(self._order)
        msg = parse_response(response, self._max_peer_items, n_a)
        if msg.mode != self._mode:
            raise UnexpectedMessage("response: its mode differs from the request's")
        if msg.session_id != self._sid:
            raise UnexpectedMessage("response: it belongs to another session")
        validate_peer_elements(msg.elements, "response")
        _distinct_hashes(msg.hashes, "response")
        scalar = party_scalar(self._seed, "initiator")
        peer_hashes = self._blind_peer(scalar, msg.elements, _compare_key(self._sid))
        mode = self._mode
        matched: list[bytes] | None
        self._report(STAGE_COMPARE, 0, n_a)
        spec = mode_spec(mode)
        # the positions of our hashes (distinct: checked) that the peer's set holds
        found = self._compare(msg.hashes, peer_hashes)
        if spec.permuted:
            count = len(found)
            matched = None
        else:
            order = self._order
            hit = {order[i] for i in found}
            count = len(hit)
            matched = self._matched(hit)
        self._report(STAGE_COMPARE, n_a, n_a)
        m3: bytes | None = None
        if spec.confirm:
            # count-only: sorted by hash value, which hides the response order without randomness
            sent = sorted(peer_hashes) if spec.permuted else peer_hashes
            m3 = encode_confirm(mode, self._sid, sent)
        th = _transcript_hash(self._m1, _as_bytes(response), m3 or b"")
        self._result = PsiResult(mode, matched, count, n_a, len(msg.elements), th)
        return m3


class Responder(_Party):
    """The party that answers: accepts the initiator's mode if it is in ``allowed_modes``.

    ``seed`` and ``rng``: as for :class:`Initiator`.
    """

    _role = "responder"

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        allowed_modes: Iterable[Mode] = MODES,
        seed: bytes | None = None,
        rng: Callable[[int], bytes] | None = None,
        workers: int | None = None,
        executor: Executor | None = None,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        progress: ProgressCallback | None = None,
    ) -> None:
        allowed = tuple(allowed_modes)
        if not allowed or any(m not in MODES for m in allowed):
            raise InvalidParameter(f"allowed_modes must be a non-empty subset of {', '.join(MODES)}")
        super().__init__(
            items, seed=seed, rng=rng, workers=workers, executor=executor, max_peer_items=max_peer_items,
            progress=progress,
        )  # fmt: skip
        self._allowed = frozenset(allowed)
        self._mode: Mode | None = None
        self._sid = b""
        self._their_hashes: set[bytes] = set()
        self._m1 = b""
        self._m2 = b""
        self._peer_size = 0

    @classmethod
    def restore_state(
        cls,
        state: bytes,
        items: Iterable[bytes],
        *,
        allowed_modes: Iterable[Mode] = MODES,
        workers: int | None = None,
        executor: Executor | None = None,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        progress: ProgressCallback | None = None,
    ) -> Responder:
        """A responder in the state :meth:`save_state` wrote; see :meth:`Initiator.restore_state`."""
        st = decode_state(state)
        party = cls(
            items, allowed_modes=allowed_modes, seed=st.seed, workers=workers, executor=executor,
            max_peer_items=max_peer_items, progress=progress,
        )  # fmt: skip
        party._apply(st)
        return party

    @property
    def mode(self) -> Mode | None:
        """The mode the initiator chose (``None`` before :meth:`respond`)."""
        return self._mode

    @property
    def next_message_expected(self) -> str | None:
        if self._state is _State.READY:
            return "request"
        if self._state is _State.AWAIT_CONFIRM:
            return "confirm"
        return None

    def _params_hash(self) -> bytes:
        return params_hash("responder", [MODE_CODES[m] for m in self._allowed], self._max_peer_items)

    def _mode_code(self) -> int:
        return 0 if self._mode is None else MODE_CODES[self._mode]

    def _held_messages(self) -> tuple[bytes, ...]:
        return (self._m1, self._m2) if self._state is _State.AWAIT_CONFIRM else ()

    def _apply_role(self, st: PartyState) -> None:
        if st.state is _State.READY:
            if st.mode_code != 0 or st.messages:
                raise StateError("saved PSI state: not a fresh responder's state")
            return
        mode = _MODE_BY_CODE.get(st.mode_code)
        if mode is None or mode not in self._allowed or st.state is _State.AWAIT_RESPONSE:
            raise StateError("saved PSI state: inconsistent mode")
        self._mode = mode
        if st.result is not None:
            self._result = self._restored_result(mode, st.result)
            return
        if len(st.messages) != 2 or not mode_spec(mode).confirm:
            raise StateError("saved PSI state: the request and response are missing")
        m1, m2 = st.messages
        req = parse_request(m1, self._max_peer_items)
        self._order = own_order(self._seed, "responder", self._sorted)
        resp = parse_response(m2, MAX_COUNT, len(req.elements))
        if resp.session_id != req.session_id or resp.mode != mode or req.mode != mode:
            raise StateError("saved PSI state: the messages do not belong together")
        if len(resp.elements) != len(self._order):
            raise StateError("saved PSI state: the response does not fit the items")
        self._sid, self._m1, self._m2 = req.session_id, m1, m2
        self._peer_size = len(req.elements)
        self._their_hashes = set(resp.hashes)

    def respond(self, request: bytes) -> bytes:
        """Process the request (message 1) and build the response (message 2).

        In modes ``intersection`` and ``cardinality`` the responder is then done (its :attr:`result`
        holds only the sizes); in the mutual modes it waits for :meth:`finish`. Given the same request
        again, it returns the same response; a different one raises :class:`StateAlreadyUsed`.
        """
        if self._gate("respond", request):
            return self._output or b""
        try:
            out = self._respond(request)
        except BaseException:
            self._state = _State.FAILED
            raise
        return out

    def _respond(self, request: bytes) -> bytes:
        msg = parse_request(request, self._max_peer_items)
        if msg.mode not in self._allowed:
            raise ModeNotAllowed(f"request: mode {msg.mode} is not allowed by this responder")
        validate_peer_elements(msg.elements, "request")
        seed = self._seed
        scalar = party_scalar(seed, "responder", _as_bytes(request))
        self._order = own_order(seed, "responder", self._sorted)
        own_blinded = self._blind_own(scalar, self._order)
        their = self._blind_peer(scalar, msg.elements, _compare_key(msg.session_id))
        del scalar
        mode = msg.mode
        spec = mode_spec(mode)
        # count-only: sorted by hash value, which hides the request order without randomness
        sent = sorted(their) if spec.permuted else their
        m2 = encode_response(mode, msg.session_id, len(msg.elements), own_blinded, sent)
        self._mode = mode
        self._sid = msg.session_id
        self._m1 = _as_bytes(request)
        self._m2 = m2
        self._peer_size = len(msg.elements)
        if spec.confirm:
            self._their_hashes = set(their)
            self._stepped(_State.AWAIT_CONFIRM, "respond", self._m1, m2)
        else:
            th = _transcript_hash(self._m1, m2, b"")
            self._result = PsiResult(mode, None, None, len(self._order), self._peer_size, th)
            self._stepped(_State.DONE, "respond", self._m1, m2)
            self._m1 = self._m2 = b""
        return m2

    def finish(self, confirm: bytes) -> None:
        """Process the confirm (message 3, mutual modes only); afterwards :attr:`result` is set."""
        if self._gate("finish", confirm):
            return
        try:
            self._finish(confirm)
        except BaseException:
            self._state = _State.FAILED
            raise
        self._stepped(_State.DONE, "finish", _as_bytes(confirm), None)
        self._m1 = self._m2 = b""

    def _finish(self, confirm: bytes) -> None:
        mode = self._mode
        if mode is None:  # unreachable: AWAIT_CONFIRM implies a mode
            raise LocalProtocolError("no mode")
        msg = parse_confirm(confirm, len(self._order))
        if msg.mode != mode:
            raise UnexpectedMessage("confirm: its mode differs from the session's")
        if msg.session_id != self._sid:
            raise UnexpectedMessage("confirm: it belongs to another session")
        _distinct_hashes(msg.hashes, "confirm")
        theirs = self._their_hashes
        matched: list[bytes] | None
        n_own = len(self._order)
        self._report(STAGE_COMPARE, 0, n_own)
        found = self._compare(msg.hashes, theirs)  # positions of the confirm's (distinct) hashes in ours
        if not mode_spec(mode).permuted:
            order = self._order
            hit = {order[i] for i in found}
            count = len(hit)
            matched = self._matched(hit)
        else:
            count = len(found)
            matched = None
        self._report(STAGE_COMPARE, n_own, n_own)
        th = _transcript_hash(self._m1, self._m2, _as_bytes(confirm))
        self._result = PsiResult(mode, matched, count, len(self._order), self._peer_size, th)
        self._their_hashes = set()


def run_in_memory(
    a_items: Iterable[bytes],
    b_items: Iterable[bytes],
    mode: Mode = "intersection",
    *,
    rng: Callable[[int], bytes] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
    progress: ProgressCallback | None = None,
) -> tuple[PsiResult, PsiResult]:
    """Run a whole session between two in-process parties; returns (initiator result, responder result).

    For tests, demos and benchmarks: a real deployment runs the two parties in different places.
    ``progress`` receives the stages of both parties, in the order they run.
    """
    init = Initiator(
        a_items, mode, rng=rng, workers=workers, executor=executor, max_peer_items=max_peer_items,
        progress=progress,
    )  # fmt: skip
    resp = Responder(
        b_items, allowed_modes=(mode,), rng=rng, workers=workers, executor=executor,
        max_peer_items=max_peer_items, progress=progress,
    )  # fmt: skip
    m2 = resp.respond(init.start())
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    return init.result, resp.result
