"""The two parties of the OT-extension engine, sans-I/O (docs/protocol-ot.md)::

    init = OtInitiator(items, "mutual", seed=a, peer_size=len(theirs))
    resp = OtResponder(items, allowed_modes=("mutual",), seed=b, peer_size=len(ours))
    m1 = init.start()        ->  m2 = resp.respond(m1)
    m3 = init.finish(m2)     ->  m4 = resp.respond(m3)
    m5 = init.finish(m4)     ->  resp.finish(m5)          (m5 is None unless mutual)
    init.result, resp.result                               (PsiResult, as the DH engine's)

Each party is single use; a call out of order raises ``LocalProtocolError``, a bad message the PSI layer's
remote errors (``MalformedMessage``, ``UnexpectedMessage``, ``ModeNotAllowed``, ``InvalidGroupElement``),
after which the party is dead.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

import numpy as np

from .._derive import derive_bytes, derive_key, derive_permutation
from ..errors import InvalidParameter, LocalProtocolError
from ..hazmat import ot
from ..psi._base import PsiResult
from ..psi._cuckoo import bin_indexes, cuckoo_bins, cuckoo_insert
from ..psi._errors import MalformedMessage, ModeNotAllowed
from ..psi._modes import Mode
from ._wire import (
    KEY,
    OT_MODES,
    POINT,
    T_BASE,
    T_CONFIRM,
    T_MATRIX,
    T_START,
    T_VALUES,
    Sizes,
    W,
    pack,
    unpack,
)

__all__ = ["SUITE_ID", "OtInitiator", "OtResponder", "item_hashes", "run_ot_in_memory"]

SUITE_ID = "blindmatch-psi-ot-v1/kkrt16-co15-ed25519-aes128-blake2b"
_PERSON = b"bm-ot-item"
#: The byte of a 128-bit item hash XORed with the hash function's number (1, 2, 3) before the code.
_H_BYTE = 8
MAX_ITEMS = 1 << 24


def item_hashes(items: Sequence[bytes], session_id: bytes) -> np.ndarray:
    """(n, 16) uint8: ``BLAKE2b-128(x, key=session id, person="bm-ot-item")`` of each item."""
    b2 = hashlib.blake2b
    joined = b"".join(b2(x, digest_size=16, key=session_id, person=_PERSON).digest() for x in items)
    out: np.ndarray = np.frombuffer(joined, dtype=np.uint8).reshape(-1, 16).copy()
    return out


def _tagged(hashes: np.ndarray, h: np.ndarray | int) -> np.ndarray:
    """The code's input for hash function ``h`` (0, 1, 2): the item hash with ``h + 1`` XORed in."""
    out: np.ndarray = hashes.copy()
    out[:, _H_BYTE] ^= (np.asarray(h, dtype=np.uint8) + 1).astype(np.uint8)
    return out


def _distinct(items: Iterable[bytes]) -> list[bytes]:
    seen: dict[bytes, None] = {}
    for x in items:
        if not isinstance(x, bytes | bytearray):
            raise InvalidParameter("items are bytes")
        seen.setdefault(bytes(x), None)
    if len(seen) > MAX_ITEMS:
        raise InvalidParameter(f"at most {MAX_ITEMS} items")
    return list(seen)


class _OtParty:
    _role: str

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        seed: bytes,
        peer_size: int,
        session_id: bytes | None,
        stat_bits: int = 40,
    ) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise InvalidParameter("seed is 32 bytes")
        if isinstance(stat_bits, bool) or not isinstance(stat_bits, int) or not 40 <= stat_bits <= 64:
            raise InvalidParameter("stat_bits is an integer in 40..64")
        if isinstance(peer_size, bool) or not isinstance(peer_size, int) or not 0 <= peer_size <= MAX_ITEMS:
            raise InvalidParameter(f"peer_size is an integer in 0..{MAX_ITEMS}")
        self._items = _distinct(items)
        self._seed = seed
        self._peer_size = peer_size
        sid = session_id if session_id is not None else derive_key(seed, b"ot session id")[:16]
        if not isinstance(sid, bytes) or len(sid) != 16:
            raise InvalidParameter("session_id is 16 bytes")
        self._sid = sid
        # every secret derives from this sub-seed, bound to the session: a reused seed never reuses the
        # choice bits, keys or blinds in another session
        self._sseed = derive_key(seed, b"ot session seed", 0, sid)
        self._step = 0
        self._failed = False
        self._result: PsiResult | None = None

    @property
    def done(self) -> bool:
        return self._result is not None

    @property
    def failed(self) -> bool:
        return self._failed

    @property
    def result(self) -> PsiResult:
        if self._result is None:
            raise LocalProtocolError("no result yet")
        return self._result

    def _context(self) -> bytes:
        return b"blindmatch-psi-ot-v1 context" + self._sid

    def _gate(self, step: int, call: str) -> None:
        if self._failed:
            raise LocalProtocolError("this party failed; start a new one")
        if self._step != step:
            raise LocalProtocolError(f"{call}() is not the next call of this {self._role}")


class OtInitiator(_OtParty):
    """The KKRT receiver: learns which of its items are shared. ``peer_size`` is the responder's (padded)
    size, declared in the session handshake; ``session_id`` binds every message and hash to the session."""

    _role = "initiator"

    def __init__(
        self,
        items: Iterable[bytes],
        mode: str = "intersection",
        *,
        seed: bytes,
        peer_size: int,
        session_id: bytes | None = None,
        stat_bits: int = 40,
    ) -> None:
        if mode not in OT_MODES:
            raise ModeNotAllowed(f"the OT engine offers the modes {', '.join(OT_MODES)} only")
        super().__init__(items, seed=seed, peer_size=peer_size, session_id=session_id, stat_bits=stat_bits)
        self.mode = mode
        n_i = len(self._items)
        self.sizes = Sizes(n_i, peer_size, cuckoo_bins(n_i, stat_bits), stat_bits)

    def expected_response_size(self) -> int:
        """The exact length of the responder's next message (0 when none comes)."""
        return {1: self.sizes.message(T_BASE), 2: self.sizes.message(T_VALUES)}.get(self._step, 0)

    def start(self) -> bytes:
        self._gate(0, "start")
        self._base, s_point = ot.base_ot_sender_start(
            derive_key(self._sseed, b"ot base sender"), self._context()
        )
        self._share = derive_key(self._sseed, b"ot cuckoo share")[:KEY]
        commit = _commitment(self._sid, self._share)
        body = self.sizes.n_i.to_bytes(4, "big") + self.sizes.n_r.to_bytes(4, "big") + s_point + commit
        self._step = 1
        return pack(T_START, self.mode, self._sid, body)

    def finish(self, message: bytes) -> bytes | None:
        """The responder's next message in; our next message out (``None`` at the end, but in mutual)."""
        if self._failed or self._step not in (1, 2):
            raise LocalProtocolError(
                "finish() comes after start(), once per responder message, until a failure"
            )
        try:
            return self._matrix(message) if self._step == 1 else self._values(message)
        except BaseException:
            self._failed = True
            raise

    def _matrix(self, message: bytes) -> bytes:
        s = self.sizes
        _, _, body = unpack(message, T_BASE, self.mode, self._sid, s.message(T_BASE))
        pairs = self._base.finish(body[: W * POINT])
        code_key, their_share = body[W * POINT : W * POINT + KEY], body[W * POINT + KEY :]
        cuckoo_key = _cuckoo_key(self._sid, their_share, self._share)
        hashes = item_hashes(self._items, self._sid)
        table, which = cuckoo_insert(bin_indexes(hashes, cuckoo_key, s.bins), s.bins)
        filled = table >= 0
        inputs = np.frombuffer(derive_bytes(self._sseed, b"ot dummy bins", 16 * s.bins), dtype=np.uint8)
        inputs = inputs.reshape(s.bins, 16).copy()  # empty bins: random code inputs (pseudorandom rows)
        placed = table[filled]
        inputs[filled] = _tagged(hashes[placed], which[placed])
        u, t = ot.extension_receiver(pairs, ot.prc(code_key, inputs), self._context())
        self._bin_of = np.empty(len(self._items), dtype=np.int64)
        self._bin_of[placed] = np.flatnonzero(filled)
        self._which = which
        self._own = ot.row_hash(
            t[self._bin_of], self._bin_of.astype(np.uint64), self._context(), s.value_bytes
        )
        self._step = 2
        return pack(T_MATRIX, self.mode, self._sid, u + self._share)

    def _values(self, message: bytes) -> bytes | None:
        s = self.sizes
        _, _, body = unpack(message, T_VALUES, self.mode, self._sid, s.message(T_VALUES))
        hit = np.zeros(len(self._items), dtype=bool)
        positions: list[np.ndarray] = []
        own = self._own.view(f"S{s.value_bytes}").ravel()
        for h in range(3):
            values = _value_list(body, h, s)
            order = np.argsort(values, kind="stable")
            ordered = values[order]
            if len(ordered) > 1 and bool((ordered[1:] == ordered[:-1]).any()):
                raise MalformedMessage("a list of the responder's values repeats a value")
            mine = np.flatnonzero(self._which == h)
            if not s.n_r or not len(mine):
                continue
            pos = np.searchsorted(ordered, own[mine])
            pos_c = np.minimum(pos, s.n_r - 1)
            found = (pos < s.n_r) & (ordered[pos_c] == own[mine])
            hit[mine[found]] = True
            positions.append(order[pos_c[found]])  # positions in the responder's (shared) list order
        matched = [x for x, f in zip(self._items, hit.tolist(), strict=True) if f]
        mode: Mode = "mutual" if self.mode == "mutual" else "intersection"
        self._result = PsiResult(
            mode, matched, len(matched), len(self._items), s.n_r, _digest(self._sid, body)
        )
        self._step = 3
        if self.mode != "mutual":
            return None
        bits = np.zeros(s.n_r + (-s.n_r) % 8, dtype=np.uint8)
        if positions:
            bits[np.concatenate(positions)] = 1
        return pack(T_CONFIRM, self.mode, self._sid, np.packbits(bits, bitorder="little").tobytes())


def _value_list(body: bytes, h: int, s: Sizes) -> np.ndarray:
    size = s.n_r * s.value_bytes
    return np.frombuffer(body[h * size : (h + 1) * size], dtype=f"S{s.value_bytes}")


def _commitment(session_id: bytes, share: bytes) -> bytes:
    return hashlib.sha256(b"blindmatch-psi-ot-v1 cuckoo share" + session_id + share).digest()


def _cuckoo_key(session_id: bytes, responder_share: bytes, initiator_share: bytes) -> bytes:
    """The cuckoo key from both shares: the responder picks its share before it sees the initiator's (only
    committed), so it cannot grind a key that sends chosen items into too few bins."""
    key = b"blindmatch-psi-ot-v1 cuckoo key" + session_id
    return hashlib.blake2b(responder_share + initiator_share, digest_size=KEY, key=key[:64]).digest()


def _digest(session_id: bytes, last: bytes) -> bytes:
    return hashlib.sha256(
        b"blindmatch-psi-ot-v1 transcript" + session_id + hashlib.sha256(last).digest()
    ).digest()


class OtResponder(_OtParty):
    """The KKRT sender: learns nothing in ``intersection``, its shared items in ``mutual``.
    ``allowed_modes`` are the modes it accepts; ``peer_size`` the initiator's declared (padded) size."""

    _role = "responder"

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        allowed_modes: Iterable[str] = OT_MODES,
        seed: bytes,
        peer_size: int,
        session_id: bytes | None = None,
        stat_bits: int = 40,
    ) -> None:
        super().__init__(items, seed=seed, peer_size=peer_size, session_id=session_id, stat_bits=stat_bits)
        self._allowed = tuple(m for m in allowed_modes if m in OT_MODES)
        self.sizes = Sizes(peer_size, len(self._items), cuckoo_bins(peer_size, stat_bits), stat_bits)
        self.mode: str | None = None

    @property
    def next_message_expected(self) -> str | None:
        """``"request"`` (messages 1 and 3), ``"confirm"`` (mutual, after 4) or ``None``."""
        if self._step in (0, 1):
            return "request"
        return "confirm" if self._step == 2 and self.mode == "mutual" else None

    def expected_request_size(self) -> int:
        if self._step == 0:
            return self.sizes.message(T_START)
        if self._step == 1:
            return self.sizes.message(T_MATRIX)
        return self.sizes.message(T_CONFIRM) if self.next_message_expected == "confirm" else 0

    def respond(self, message: bytes) -> bytes:
        if self._failed or self._step not in (0, 1):
            raise LocalProtocolError("respond() takes messages 1 and 3 only, until a failure")
        try:
            return self._base_ots(message) if self._step == 0 else self._values(message)
        except BaseException:
            self._failed = True
            raise

    def _base_ots(self, message: bytes) -> bytes:
        mode, _, body = unpack(message, T_START, None, self._sid, self.sizes.message(T_START))
        if mode not in self._allowed:
            raise ModeNotAllowed(f"mode {mode!r} is not allowed here")
        self.mode = mode
        n_i, n_r = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        if (n_i, n_r) != (self.sizes.n_i, self.sizes.n_r):
            raise MalformedMessage("the request's set sizes differ from the ones declared")
        self._choices = derive_bytes(self._sseed, b"ot choice bits", W // 8)
        msg2, self._keys = ot.base_ot_receiver(
            self._choices, body[8 : 8 + POINT], derive_key(self._sseed, b"ot base receiver"), self._context()
        )
        self._commit = body[8 + POINT :]
        self._code_key = derive_key(self._sseed, b"ot code key")[:KEY]
        self._share = derive_key(self._sseed, b"ot cuckoo key")[:KEY]
        self._step = 1
        return pack(T_BASE, mode, self._sid, msg2 + self._code_key + self._share)

    def _values(self, message: bytes) -> bytes:
        s, mode = self.sizes, self.mode or "intersection"
        _, _, body = unpack(message, T_MATRIX, mode, self._sid, s.message(T_MATRIX))
        u, their_share = body[:-KEY], body[-KEY:]
        if not hmac.compare_digest(_commitment(self._sid, their_share), self._commit):
            raise MalformedMessage("the initiator's cuckoo-key share does not open its commitment")
        q = ot.extension_sender(self._keys, self._choices, u, s.bins, self._context())
        hashes = item_hashes(self._items, self._sid)
        idx = bin_indexes(hashes, _cuckoo_key(self._sid, self._share, their_share), s.bins)
        # one random order shared by the three lists: a position names one of our items, whatever the
        # hash function that placed it on the other side (the mutual confirm marks positions)
        self._order = np.array(
            derive_permutation(self._sseed, b"ot list order", len(self._items)), dtype=np.int64
        )
        parts = []
        for h in range(3):
            rows = ot.sender_rows(q, idx[:, h], ot.prc(self._code_key, _tagged(hashes, h)), self._choices)
            vals = ot.row_hash(rows, idx[:, h].astype(np.uint64), self._context(), s.value_bytes)
            parts.append(np.ascontiguousarray(vals[self._order]).tobytes())
        body = b"".join(parts)
        self._step = 2
        if mode != "mutual":
            self._result = PsiResult(
                "intersection", None, None, len(self._items), s.n_i, _digest(self._sid, body)
            )
        self._last = body
        return pack(T_VALUES, mode, self._sid, body)

    def finish(self, message: bytes) -> None:
        """The initiator's confirm (mutual only)."""
        if self._failed or self.next_message_expected != "confirm":
            raise LocalProtocolError("finish() takes the confirm of a mutual session only")
        try:
            s = self.sizes
            _, _, body = unpack(message, T_CONFIRM, "mutual", self._sid, s.message(T_CONFIRM))
            bits = np.unpackbits(np.frombuffer(body, dtype=np.uint8), bitorder="little")
            if bits[s.n_r :].any():
                raise MalformedMessage("the confirm's padding bits are not zero")
            marked = np.flatnonzero(bits[: s.n_r])
            if len(marked) > s.n_i:  # an honest initiator marks at most one position per item of its own
                raise MalformedMessage(
                    f"the confirm marks {len(marked)} values, more than the initiator's {s.n_i}"
                )
            hit = np.zeros(len(self._items), dtype=bool)
            hit[self._order[marked]] = True
        except BaseException:
            self._failed = True
            raise
        matched = [x for x, f in zip(self._items, hit.tolist(), strict=True) if f]
        self._result = PsiResult(
            "mutual", matched, len(matched), len(self._items), s.n_i, _digest(self._sid, self._last)
        )
        self._step = 3


def run_ot_in_memory(
    a: Iterable[bytes],
    b: Iterable[bytes],
    mode: str = "intersection",
    *,
    seeds: tuple[bytes, bytes] = (bytes(32), bytes(range(32))),
) -> tuple[PsiResult, PsiResult]:
    """Both parties in one process (tests, examples)."""
    a_items, b_items = _distinct(a), _distinct(b)
    sid = derive_key(seeds[0], b"ot session id")[:16]
    init = OtInitiator(a_items, mode, seed=seeds[0], peer_size=len(b_items), session_id=sid)
    resp = OtResponder(b_items, seed=seeds[1], peer_size=len(a_items), session_id=sid)
    m3 = init.finish(resp.respond(init.start()))
    if m3 is None:  # pragma: no cover - message 3 always comes
        raise LocalProtocolError("no matrix")
    m5 = init.finish(resp.respond(m3))
    if m5 is not None:
        resp.finish(m5)
    return init.result, resp.result
