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

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

import numpy as np

from .._progress import STAGE_BLIND_OWN, STAGE_BLIND_PEER, STAGE_COMPARE, ProgressCallback
from ..errors import InvalidParameter, LocalProtocolError
from ..hazmat.group import (
    SUITE_ID,
    InvalidGroupElement,
    blind_and_hash,
    hash_to_group_and_blind,
    new_scalar,
    validate_peer_elements,
)
from ._errors import ModeNotAllowed, UnexpectedMessage
from ._modes import MODES, Mode, mode_spec
from ._parallel import map_chunked
from ._wire import (
    MAX_COUNT,
    SESSION_ID_BYTES,
    encode_confirm,
    encode_request,
    encode_response,
    parse_confirm,
    parse_request,
    parse_response,
)

__all__ = [
    "DEFAULT_MAX_PEER_ITEMS",
    "Initiator",
    "PsiResult",
    "Responder",
    "run_in_memory",
]

DEFAULT_MAX_PEER_ITEMS = 1 << 22

DST_HASH_TO_GROUP = SUITE_ID + b"/hash-to-group"
_DST_COMPARE = SUITE_ID + b"/compare-16"
_DST_TRANSCRIPT = SUITE_ID + b"/transcript"

T = TypeVar("T")


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


class _State(Enum):
    READY = "ready"
    AWAIT_RESPONSE = "await-response"
    AWAIT_CONFIRM = "await-confirm"
    DONE = "done"
    FAILED = "failed"


def _draw(rng: Callable[[int], bytes], n: int) -> bytes:
    out = rng(n)
    if not isinstance(out, bytes) or len(out) != n:
        raise InvalidParameter("rng(n) must return exactly n bytes")
    return out


def _shuffled(seq: Sequence[T], rng: Callable[[int], bytes]) -> list[T]:
    """A uniformly random permutation of ``seq`` (sorting by 64-bit random keys drawn from ``rng``)."""
    n = len(seq)
    if n <= 1:
        return list(seq)
    keys = np.frombuffer(_draw(rng, 8 * n), dtype="<u8")
    order: list[int] = np.argsort(keys, kind="stable").tolist()
    return [seq[i] for i in order]


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


class _Party:
    _role = "party"

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        rng: Callable[[int], bytes] | None,
        workers: int,
        max_peer_items: int,
        progress: ProgressCallback | None,
    ) -> None:
        if progress is not None and not callable(progress):
            raise InvalidParameter("progress must be a callable (stage, done, total) or None")
        own = list(items)
        for x in own:
            if not isinstance(x, bytes):
                raise InvalidParameter("PSI items must be bytes (see blindmatch.psi.indicator_item)")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameter("workers must be an integer >= 1")
        if isinstance(max_peer_items, bool) or not isinstance(max_peer_items, int) or not (
            0 <= max_peer_items <= MAX_COUNT
        ):
            raise InvalidParameter(f"max_peer_items must be an integer in [0, {MAX_COUNT}]")
        distinct = list(dict.fromkeys(own))
        if len(distinct) > MAX_COUNT:
            raise InvalidParameter("too many items for one session")
        self._items = own
        self._distinct = distinct
        self._rng: Callable[[int], bytes] = rng if rng is not None else os.urandom
        self._workers = workers
        self._max_peer_items = max_peer_items
        self._progress = progress
        self._state = _State.READY
        self._result: PsiResult | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self._state.value} items={len(self._distinct)}>"

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

    def _enter(self, expected: _State, call: str) -> None:
        if self._state is _State.FAILED:
            raise LocalProtocolError(f"this {self._role} failed earlier and cannot be used again")
        if self._state is not expected:
            state = self._state.value
            if self._state is not _State.DONE:
                self._state = _State.FAILED  # a party refuses further use after any error
            raise LocalProtocolError(f"{call}() called in state {state}")

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
        return map_chunked(
            hash_to_group_and_blind, (scalar, DST_HASH_TO_GROUP), order, self._workers,
            self._reporter(STAGE_BLIND_OWN),
        )  # fmt: skip

    def _blind_peer(self, scalar: bytes, elements: list[bytes], key: bytes) -> list[bytes]:
        return map_chunked(
            blind_and_hash, (scalar, key), elements, self._workers, self._reporter(STAGE_BLIND_PEER)
        )


class Initiator(_Party):
    """The party that starts: picks the mode and the session id, and learns the (first) result."""

    _role = "initiator"

    def __init__(
        self,
        items: Iterable[bytes],
        mode: Mode = "intersection",
        *,
        rng: Callable[[int], bytes] | None = None,
        workers: int = 1,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        progress: ProgressCallback | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidParameter(f"unknown PSI mode; expected one of {', '.join(MODES)}")
        super().__init__(
            items, rng=rng, workers=workers, max_peer_items=max_peer_items, progress=progress
        )
        self._mode: Mode = mode
        self._sid = b""
        self._scalar = b""
        self._order: list[bytes] = []
        self._m1 = b""

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def next_message_expected(self) -> str | None:
        return "response" if self._state is _State.AWAIT_RESPONSE else None

    def start(self) -> bytes:
        """Build the request (message 1)."""
        self._enter(_State.READY, "start")
        try:
            rng = self._rng
            self._sid = _draw(rng, SESSION_ID_BYTES)
            self._scalar = new_scalar(rng)
            self._order = _shuffled(self._distinct, rng)
            blinded = self._blind_own(self._scalar, self._order)
            self._m1 = encode_request(self._mode, self._sid, blinded)
        except BaseException:
            self._state = _State.FAILED
            raise
        self._state = _State.AWAIT_RESPONSE
        return self._m1

    def finish(self, response: bytes) -> bytes | None:
        """Process the response (message 2); returns the confirm (message 3) in mutual modes, else None.

        Afterwards :attr:`result` is set.
        """
        self._enter(_State.AWAIT_RESPONSE, "finish")
        try:
            out = self._finish(response)
        except BaseException:
            self._state = _State.FAILED
            self._scalar = b""
            raise
        self._state = _State.DONE
        self._scalar = b""
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
        peer_hashes = self._blind_peer(self._scalar, msg.elements, _compare_key(self._sid))
        mode = self._mode
        matched: list[bytes] | None
        self._report(STAGE_COMPARE, 0, n_a)
        spec = mode_spec(mode)
        if spec.permuted:
            count = len(set(peer_hashes).intersection(msg.hashes))
            matched = None
        else:
            peer_set = set(peer_hashes)
            order = self._order
            hit = {order[i] for i, h in enumerate(msg.hashes) if h in peer_set}
            count = len(hit)
            matched = [x for x in self._items if x in hit]
        self._report(STAGE_COMPARE, n_a, n_a)
        m3: bytes | None = None
        if spec.confirm:
            sent = _shuffled(peer_hashes, self._rng) if spec.permuted else peer_hashes
            m3 = encode_confirm(mode, self._sid, sent)
        th = _transcript_hash(self._m1, bytes(response), m3 or b"")
        self._result = PsiResult(mode, matched, count, n_a, len(msg.elements), th)
        return m3


class Responder(_Party):
    """The party that answers: accepts the initiator's mode if it is in ``allowed_modes``."""

    _role = "responder"

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        allowed_modes: Iterable[Mode] = MODES,
        rng: Callable[[int], bytes] | None = None,
        workers: int = 1,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        progress: ProgressCallback | None = None,
    ) -> None:
        allowed = tuple(allowed_modes)
        if not allowed or any(m not in MODES for m in allowed):
            raise InvalidParameter(f"allowed_modes must be a non-empty subset of {', '.join(MODES)}")
        super().__init__(
            items, rng=rng, workers=workers, max_peer_items=max_peer_items, progress=progress
        )
        self._allowed = frozenset(allowed)
        self._mode: Mode | None = None
        self._sid = b""
        self._order: list[bytes] = []
        self._their_hashes: set[bytes] = set()
        self._m1 = b""
        self._m2 = b""
        self._peer_size = 0

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

    def respond(self, request: bytes) -> bytes:
        """Process the request (message 1) and build the response (message 2).

        In modes ``intersection`` and ``cardinality`` the responder is then done (its :attr:`result`
        holds only the sizes); in the mutual modes it waits for :meth:`finish`.
        """
        self._enter(_State.READY, "respond")
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
        rng = self._rng
        scalar = new_scalar(rng)
        self._order = _shuffled(self._distinct, rng)
        own_blinded = self._blind_own(scalar, self._order)
        their = self._blind_peer(scalar, msg.elements, _compare_key(msg.session_id))
        del scalar
        mode = msg.mode
        spec = mode_spec(mode)
        sent = _shuffled(their, rng) if spec.permuted else their
        m2 = encode_response(mode, msg.session_id, len(msg.elements), own_blinded, sent)
        self._mode = mode
        self._sid = msg.session_id
        self._m1 = bytes(request)
        self._m2 = m2
        self._peer_size = len(msg.elements)
        if spec.confirm:
            self._their_hashes = set(their)
            self._state = _State.AWAIT_CONFIRM
        else:
            th = _transcript_hash(self._m1, m2, b"")
            self._result = PsiResult(mode, None, None, len(self._order), self._peer_size, th)
            self._state = _State.DONE
        return m2

    def finish(self, confirm: bytes) -> None:
        """Process the confirm (message 3, mutual modes only); afterwards :attr:`result` is set."""
        self._enter(_State.AWAIT_CONFIRM, "finish")
        try:
            self._finish(confirm)
        except BaseException:
            self._state = _State.FAILED
            raise
        self._state = _State.DONE

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
        if not mode_spec(mode).permuted:
            order = self._order
            hit = {order[i] for i, h in enumerate(msg.hashes) if h in theirs}
            count = len(hit)
            matched = [x for x in self._items if x in hit]
        else:
            count = len(theirs.intersection(msg.hashes))
            matched = None
        self._report(STAGE_COMPARE, n_own, n_own)
        th = _transcript_hash(self._m1, self._m2, bytes(confirm))
        self._result = PsiResult(mode, matched, count, len(self._order), self._peer_size, th)
        self._their_hashes = set()


def run_in_memory(
    a_items: Iterable[bytes],
    b_items: Iterable[bytes],
    mode: Mode = "intersection",
    *,
    rng: Callable[[int], bytes] | None = None,
    workers: int = 1,
    max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
    progress: ProgressCallback | None = None,
) -> tuple[PsiResult, PsiResult]:
    """Run a whole session between two in-process parties; returns (initiator result, responder result).

    For tests, demos and benchmarks: a real deployment runs the two parties in different places.
    ``progress`` receives the stages of both parties, in the order they run.
    """
    init = Initiator(
        a_items, mode, rng=rng, workers=workers, max_peer_items=max_peer_items, progress=progress
    )
    resp = Responder(
        b_items, allowed_modes=(mode,), rng=rng, workers=workers, max_peer_items=max_peer_items,
        progress=progress,
    )  # fmt: skip
    m2 = resp.respond(init.start())
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    return init.result, resp.result



