"""Deviating parties against the OT-extension engine (``blindmatch.otpsi``), for tests/test_otpsi_review.py.

Every attacker here uses only what its role holds: its own seed and messages, the peer's messages, and the
public parameters (session id, sizes, the code key and cuckoo-key share the responder sends in message 2,
the initiator's share opened in message 3). Nothing under src/ is changed; the attackers build their
messages from the engine's own public-ish building blocks (``hazmat.ot``, ``psi._cuckoo``, the wire framing,
the cuckoo-key and commitment functions of ``otpsi._party``).

Wire format (docs/protocol-ot.md): message 1 ``n_I || n_R || S || commitment(initiator share)``; message 2
``W points || code key || responder share``; message 3 ``U || initiator share``; message 4 three value lists
in one shared (secret, random) order of the responder's items; message 5 (mutual) one bit per position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from blindmatch.hazmat import ot
from blindmatch.otpsi import OtInitiator, OtResponder, item_hashes
from blindmatch.otpsi._party import _commitment, _cuckoo_key, _tagged
from blindmatch.otpsi._wire import (
    KEY,
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
from blindmatch.psi._cuckoo import bin_indexes, cuckoo_bins

SID = bytes(range(16))


def context(sid: bytes = SID) -> bytes:
    """The engine's session context (as ``_OtParty._context``)."""
    return b"blindmatch-psi-ot-v1 context" + sid


def items(tag: str, ids: range | list[int]) -> list[bytes]:
    return [f"{tag}{i}@example.org".encode() for i in ids]


def bit_mask(positions: list[int], value: int) -> np.ndarray:
    """A 64-byte row with bit ``positions[i]`` set when bit ``i`` of ``value`` is (LSB-first bit order)."""
    row = np.zeros(64, dtype=np.uint8)
    for i, p in enumerate(positions):
        if (value >> i) & 1:
            row[p // 8] |= np.uint8(1 << (p % 8))
    return row


def all_masks(positions: list[int]) -> np.ndarray:
    """``(2^w, 64)``: :func:`bit_mask` of every ``value`` in ``[0, 2^w)``."""
    w = len(positions)
    v = np.arange(1 << w, dtype=np.int64)
    out = np.zeros((1 << w, 64), dtype=np.uint8)
    for i, p in enumerate(positions):
        out[:, p // 8] |= (((v >> i) & 1) << (p % 8)).astype(np.uint8)
    return out


def split_lists(m4: bytes, sizes, sid: bytes = SID, mode: str | None = None) -> list[np.ndarray]:
    """The responder's three value lists, as ``S{value_bytes}`` arrays, in the wire's (shared) order."""
    _, _, body = unpack(m4, T_VALUES, mode, sid, None)
    size = sizes.n_r * sizes.value_bytes
    return [np.frombuffer(body[h * size : (h + 1) * size], dtype=f"S{sizes.value_bytes}") for h in range(3)]


def contains(values_list: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Membership of each of ``values`` in ``values_list`` (both ``S{n}``, the list in any order)."""
    if values_list.size == 0:
        return np.zeros(values.shape[0], dtype=bool)
    ordered = np.sort(values_list)
    pos = np.minimum(np.searchsorted(ordered, values), ordered.size - 1)
    return np.asarray(ordered[pos] == values)


class _ShareHolder:
    """The initiator's side of the cuckoo key: a share committed in message 1, opened in message 3."""

    sid: bytes

    def _commit_share(self) -> bytes:
        self.share = os.urandom(KEY)
        return _commitment(self.sid, self.share)

    def _keys_of(self, m2_body: bytes) -> tuple[bytes, bytes]:
        """``(code key, cuckoo key)`` from message 2's body and our share."""
        code_key, their_share = m2_body[W * POINT : W * POINT + KEY], m2_body[W * POINT + KEY :]
        return code_key, _cuckoo_key(self.sid, their_share, self.share)


# -- a deviating responder: choice bits s = 0 ----------------------------------------------------------------


@dataclass
class ZeroChoiceResponder:
    """A responder that draws its base-OT choice bits as all zeros (its own secret: nobody can tell), so
    that ``Q = T``: it then knows the initiator's OPRF row for every bin, whatever item is in it.

    It picks its cuckoo-key share honestly (it cannot steer the key: the initiator's share is committed);
    it learns the key in message 3, when the initiator opens its share, before it sends message 4.
    """

    n_i: int
    n_r: int
    sid: bytes = SID
    keys: list[bytes] = field(default_factory=list)
    share: bytes = b""
    cuckoo_key: bytes = b""
    code_key: bytes = b""
    mode: str = "intersection"
    #: list number -> position in that list -> bin (or -1 for filler)
    bin_at: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sizes = Sizes(self.n_i, self.n_r, cuckoo_bins(self.n_i))  # n_r: what it declares

    def respond_base(self, m1: bytes) -> bytes:
        self.mode, _, body = unpack(m1, T_START, None, self.sid, None)
        self.commit = body[8 + POINT :]
        msg2, self.keys = ot.base_ot_receiver(
            bytes(W // 8), body[8 : 8 + POINT], os.urandom(32), context(self.sid)
        )
        self.code_key, self.share = os.urandom(KEY), os.urandom(KEY)
        return pack(T_BASE, self.mode, self.sid, msg2 + self.code_key + self.share)

    def forged_values(self, m3: bytes) -> bytes:
        """Message 4 whose every list holds the initiator's value ``H(b, t_b)`` of every bin ``b`` (needs
        ``n_r >= bins``), the rest random filler; no list repeats a value, as required.

        With ``n_r >= 3 bins`` list ``h`` puts bin ``b`` at position ``h bins + b`` (positions name
        (bin, hash number) pairs, so a mutual confirm tells both); otherwise every list puts bin ``b`` at
        position ``b`` (a confirm tells the occupied bins)."""
        s = self.sizes
        _, _, body = unpack(m3, T_MATRIX, self.mode, self.sid, None)
        u, their_share = body[:-KEY], body[-KEY:]
        assert _commitment(self.sid, their_share) == self.commit
        self.cuckoo_key = _cuckoo_key(self.sid, self.share, their_share)  # known from message 3 on
        q = ot.extension_sender(self.keys, bytes(W // 8), u, s.bins, context(self.sid))  # = T
        per_bin = ot.row_hash(q, np.arange(s.bins, dtype=np.uint64), context(self.sid), s.value_bytes)
        assert s.n_r >= s.bins, "declare at least as many items as the initiator has bins"
        stacked = s.n_r >= 3 * s.bins
        parts, self.bin_at = [], []
        for h in range(3):
            start = h * s.bins if stacked else 0
            vals = np.frombuffer(os.urandom(s.n_r * s.value_bytes), dtype=np.uint8).reshape(s.n_r, -1).copy()
            vals[start : start + s.bins] = per_bin
            owner = np.full(s.n_r, -1, dtype=np.int64)
            owner[start : start + s.bins] = np.arange(s.bins)
            self.bin_at.append(owner)
            parts.append(vals.tobytes())
        return pack(T_VALUES, self.mode, self.sid, b"".join(parts))

    def occupied(self, m5: bytes) -> set[tuple[int, int]]:
        """From the initiator's confirm: ``(bin, hash number)`` pairs, one of which (per marked position)
        holds a real item of the initiator (exactly that pair with the stacked layout)."""
        _, _, body = unpack(m5, T_CONFIRM, "mutual", self.sid, None)
        bits = np.unpackbits(np.frombuffer(body, dtype=np.uint8), bitorder="little")
        marked = np.flatnonzero(bits[: self.sizes.n_r]).tolist()
        return {(int(self.bin_at[h][p]), h) for h in range(3) for p in marked if self.bin_at[h][p] >= 0}

    def consistent(self, candidates: list[bytes], occupied: set[tuple[int, int]]) -> list[bytes]:
        """The candidates that can be in the initiator's set: some bin of theirs is occupied by that hash."""
        idx = bin_indexes(item_hashes(candidates, self.sid), self.cuckoo_key, self.sizes.bins)
        return [c for c, row in zip(candidates, idx.tolist(), strict=True)
                if any((row[h], h) in occupied for h in range(3))]  # fmt: skip


def zero_choice_run(initiator_items: list[bytes], n_r: int, mode: str, sid: bytes = SID):
    """One session of an honest initiator against :class:`ZeroChoiceResponder`: ``(init, attacker, m5)``."""
    init = OtInitiator(initiator_items, mode, seed=os.urandom(32), peer_size=n_r, session_id=sid)
    bad = ZeroChoiceResponder(len(initiator_items), n_r, sid)
    m3 = init.finish(bad.respond_base(init.start()))
    assert m3 is not None
    m5 = init.finish(bad.forged_values(m3))
    return init, bad, m5


# -- a deviating initiator: crafted codewords in U -----------------------------------------------------------


@dataclass
class ProbingInitiator(_ShareHolder):
    """An initiator that declares ``n_i`` items but fills ``U`` with codewords of its choice.

    ``known`` are items it knows the responder holds (public, popular indicators, say). For each bin of a
    known item ``y`` (hash ``k``) it puts ``C(y, k) xor d`` with ``d`` a few bits wide; the responder's
    value for ``y`` is then ``H(b, t_b xor (d AND s))``, and the initiator, which knows ``t_b``, tries the
    ``2^|d|`` possibilities: the one in list ``k`` gives those bits of ``s``. Once all 512 bits of ``s``
    are known it has ``q_b = t_b xor (c_b AND s)`` for every bin, i.e. the responder's OPRF key, and
    evaluates the responder's OPRF on any candidate, offline and without limit. (The cuckoo key, from both
    shares, is known to it once message 2 arrives: it placed its probes with it.)
    """

    n_i: int
    n_r: int
    known: list[bytes]
    sid: bytes = SID

    def __post_init__(self) -> None:
        self.sizes = Sizes(self.n_i, self.n_r, cuckoo_bins(self.n_i))

    def start(self) -> bytes:
        self._base, s_point = ot.base_ot_sender_start(os.urandom(32), context(self.sid))
        body = self.n_i.to_bytes(4, "big") + self.n_r.to_bytes(4, "big") + s_point + self._commit_share()
        return pack(T_START, "intersection", self.sid, body)

    def matrix(self, m2: bytes) -> bytes:
        s = self.sizes
        _, _, body = unpack(m2, T_BASE, "intersection", self.sid, s.message(T_BASE))
        pairs = self._base.finish(body[: W * POINT])
        self.code_key, self.cuckoo_key = self._keys_of(body)
        hashes = item_hashes(self.known, self.sid)
        idx = bin_indexes(hashes, self.cuckoo_key, s.bins)
        probes: dict[int, tuple[int, int]] = {}  # bin -> (known item, hash number)
        for j, row in enumerate(idx.tolist()):
            for k, b in enumerate(row):
                probes.setdefault(b, (j, k))
        self.probes = sorted(probes.items())
        width = -(-W // len(self.probes))
        assert width <= 16, "too few known items for these bins"
        self.positions = [list(range(i * width, min(W, (i + 1) * width))) for i in range(len(self.probes))]
        codewords = ot.prc(os.urandom(KEY), np.frombuffer(os.urandom(16 * s.bins), np.uint8).reshape(-1, 16))
        self.cw = codewords
        for (b, (j, k)), pos in zip(self.probes, self.positions, strict=False):
            real = ot.prc(self.code_key, _tagged(hashes[j : j + 1], k))[0]
            codewords[b] = real ^ bit_mask(pos, (1 << len(pos)) - 1)
        u, self.t = ot.extension_receiver(pairs, codewords, context(self.sid))
        return pack(T_MATRIX, "intersection", self.sid, u + self.share)

    def recover_s(self, m4: bytes) -> np.ndarray:
        """The responder's 512 choice bits, from the value lists (``(512,)`` of 0/1)."""
        s = self.sizes
        self.lists = [np.sort(x) for x in split_lists(m4, s, self.sid, "intersection")]
        bits = np.full(W, -1, dtype=np.int64)
        for (b, (_j, k)), pos in zip(self.probes, self.positions, strict=False):
            if not pos:
                continue
            rows = self.t[b] ^ all_masks(pos)
            vals = ot.row_hash(rows, np.full(len(rows), b, dtype=np.uint64), context(self.sid), s.value_bytes)
            hit = np.flatnonzero(contains(self.lists[k], vals.view(f"S{s.value_bytes}").ravel()))
            assert hit.size == 1, "a known item is not in the responder's set"
            for i, p in enumerate(pos):
                bits[p] = (int(hit[0]) >> i) & 1
        assert (bits >= 0).all()
        self.s_bits = bits.astype(np.uint8)
        return self.s_bits

    def oprf_members(self, candidates: list[bytes]) -> list[bytes]:
        """Which candidates the responder holds, from the recovered key alone (any number of them)."""
        s = self.sizes
        sbytes = np.packbits(self.s_bits, bitorder="little").tobytes()
        q = self.t ^ (self.cw & np.frombuffer(sbytes, dtype=np.uint8))  # q_b = t_b xor (c_b AND s)
        hashes = item_hashes(candidates, self.sid)
        idx = bin_indexes(hashes, self.cuckoo_key, s.bins)
        found = np.zeros(len(candidates), dtype=bool)
        for h in range(3):
            rows = ot.sender_rows(q, idx[:, h], ot.prc(self.code_key, _tagged(hashes, h)), sbytes)
            vals = ot.row_hash(rows, idx[:, h].astype(np.uint64), context(self.sid), s.value_bytes)
            found |= contains(self.lists[h], vals.view(f"S{s.value_bytes}").ravel())
        return [c for c, f in zip(candidates, found.tolist(), strict=True) if f]


def probing_run(known: list[bytes], secret: list[bytes], n_i: int, sid: bytes = SID) -> ProbingInitiator:
    """An honest responder holding ``known + secret`` against :class:`ProbingInitiator` (declared ``n_i``)."""
    theirs = known + secret
    resp = OtResponder(theirs, seed=os.urandom(32), peer_size=n_i, session_id=sid)
    bad = ProbingInitiator(n_i, len(theirs), known, sid)
    m4 = resp.respond(bad.matrix(resp.respond(bad.start())))
    bad.recover_s(m4)
    return bad


# -- a deviating initiator without known items: one candidate per bin ---------------------------------------


def bin_filling_probe(
    candidates: list[bytes], resp: OtResponder, n_i: int, sid: bytes = SID
) -> tuple[list[bytes], list[bytes]]:
    """An initiator declaring ``n_i`` items that puts a different candidate in *every* bin (honest
    initiators put random dummies in the empty ones, which the responder cannot tell apart): it learns
    membership for ``cuckoo_bins(n_i)`` candidates, not ``n_i``. Returns ``(tested, found)``."""
    bad = ProbingInitiator(n_i, resp.sizes.n_r, [], sid)
    m2 = resp.respond(bad.start())
    s = bad.sizes
    _, _, body = unpack(m2, T_BASE, "intersection", sid, s.message(T_BASE))
    pairs = bad._base.finish(body[: W * POINT])
    code_key, cuckoo_key = bad._keys_of(body)
    hashes = item_hashes(candidates, sid)
    idx = bin_indexes(hashes, cuckoo_key, s.bins)
    placed: dict[int, tuple[int, int]] = {}  # bin -> (candidate, hash number)
    for j, row in enumerate(idx.tolist()):
        for k, b in enumerate(row):
            if b not in placed:
                placed[b] = (j, k)
                break
    assert len(placed) == s.bins, "not enough candidates to fill every bin"
    inputs = np.zeros((s.bins, 16), dtype=np.uint8)
    which = np.zeros(s.bins, dtype=np.int64)
    for b, (j, k) in placed.items():
        inputs[b] = _tagged(hashes[j : j + 1], k)[0]
        which[b] = k
    u, t = ot.extension_receiver(pairs, ot.prc(code_key, inputs), context(sid))
    m4 = resp.respond(pack(T_MATRIX, "intersection", sid, u + bad.share))
    lists = split_lists(m4, s, sid, "intersection")
    own = ot.row_hash(t, np.arange(s.bins, dtype=np.uint64), context(sid), s.value_bytes)
    own_s = own.view(f"S{s.value_bytes}").ravel()
    tested = [candidates[placed[b][0]] for b in range(s.bins)]
    hits = [tested[b] for b in range(s.bins) if contains(lists[which[b]], own_s[b : b + 1])[0]]
    return tested, hits
