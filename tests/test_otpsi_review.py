"""Adversarial review of the OT-extension PSI engine (issue 15): ``blindmatch.otpsi``, ``hazmat.ot``, the
cuckoo layer and the session integration, attacked by a deviating peer in either role.

The review (commits 0c23f96, 4b94f02) found eleven problems, written as strict xfails; the engine was then
changed (1a951e8: session-bound secrets, a cuckoo key from both parties' shares, one list order shared by
the three value lists and an ``n_R``-bit confirm bounded by ``n_I``, OT caps at 2^24, the OT engine opt-in)
and the documentation of what the engine does not protect rewritten (7bfb1fe). Each finding is now a
regression test of its fix, a check that docs/protocol-ot.md states the limitation, or a demonstration
(``test_demo_*``) that the documented attack still works on the current wire format, keeping the attack
helpers in ``tests/otpsi_attacks.py`` honest. ``test_held_*`` are attacks the engine withstood. Nothing
under src/ is changed by these tests.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import nacl.bindings as nb
import numpy as np
import otpsi_attacks as A
import pytest
from session_support import make_parties

from blindmatch.errors import LocalProtocolError, RemoteError
from blindmatch.hazmat import ot
from blindmatch.hazmat._errors import InvalidGroupElement
from blindmatch.otpsi import OtInitiator, OtResponder
from blindmatch.otpsi._party import _commitment, _cuckoo_key
from blindmatch.otpsi._wire import HEADER_BYTES, KEY, POINT, T_CONFIRM, T_START, T_VALUES, Sizes, pack, unpack
from blindmatch.psi import Initiator as DhInitiator
from blindmatch.psi import Responder as DhResponder
from blindmatch.psi._cuckoo import cuckoo_bins
from blindmatch.session import Policy
from blindmatch.session.errors import MalformedMessage, Reflected, Replayed
from blindmatch.session.manifest import OT_PSI_SUITE, PSI_SUITE, PSI_SUITES, Manifest

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol-ot.md"
SID = A.SID


def _doc_section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start : end if end > 0 else None].split())


def _pair(a: list[bytes], b: list[bytes], mode: str = "mutual", sid: bytes = SID, seeds=None):
    seeds = seeds or (os.urandom(32), os.urandom(32))
    init = OtInitiator(a, mode, seed=seeds[0], peer_size=len(b), session_id=sid)
    resp = OtResponder(b, seed=seeds[1], peer_size=len(a), session_id=sid)
    return init, resp


def _run(init: OtInitiator, resp: OtResponder) -> list[bytes]:
    msgs = [init.start()]
    msgs.append(resp.respond(msgs[-1]))
    m3 = init.finish(msgs[-1])
    assert m3 is not None
    msgs.append(m3)
    msgs.append(resp.respond(m3))
    m5 = init.finish(msgs[-1])
    if m5 is not None:
        msgs.append(m5)
        resp.finish(m5)
    return msgs


# ======================================================================= findings: fixed, documented, demoed

OT_POLICY = Policy(psi_suites=frozenset(PSI_SUITES))

# -- 1. a deviating initiator that knows a few of the responder's items gets the whole OPRF key ------------


def test_demo_probing_initiator_recovers_the_oprf_key_and_tests_any_dictionary() -> None:
    """Demonstration (documented, inherent to KKRT16): an initiator declaring 64 items, knowing 20 of the
    responder's 220 (public, popular indicators), puts ``C(y) xor d`` in the bins of the known items, reads
    512 bits of ``s`` off the value lists (about 2^11 row hashes per bin), and then evaluates the
    responder's OPRF offline on 8,000 candidates: it finds every one of the 200 items it did not know. The
    shared list order and the two-share cuckoo key do not change this: the initiator knows the cuckoo key
    when it builds ``U``, and looks values up in each list whatever its order."""
    known, secret = A.items("known", range(20)), A.items("secret", range(200))
    bad = A.probing_run(known, secret, n_i=64)
    candidates = A.items("secret", range(5000)) + A.items("other", range(3000))
    assert sorted(bad.oprf_members(candidates)) == sorted(secret)
    assert len(candidates) > 100 * 64


def test_doc_says_what_a_deviating_initiator_learns() -> None:
    """protocol-ot.md must say what arbitrary codewords in ``U`` buy (demonstrated above): with a handful of
    the responder's items known, the initiator recovers the choice bits ``s``, i.e. the OPRF key, and tests
    any number of candidates against the responder's whole set offline -- the caps and padding bound
    nothing then. A responder must not run this engine with a peer it does not trust to be honest."""
    text = _doc_section("What it does not protect").lower()
    assert re.search(r"choice bits|oprf key", text), "the consequence (s / the OPRF key) is not stated"
    assert re.search(r"know", text), "the precondition (a few known items) is not stated"
    assert re.search(r"every|any number|unlimited|whole set|offline", text)


def test_default_policy_requires_opting_in_to_the_semi_honest_engine() -> None:
    """Fixed: ``Policy()`` runs the DH engine only (it holds against a deviating initiator); a responder
    opts in to the semi-honest OT engine (``psi_suites={PSI_SUITE, OT_PSI_SUITE}``), and a proposal naming
    it is refused otherwise, before any PSI message."""
    assert OT_PSI_SUITE not in Policy().psi_suites
    assert PSI_SUITE in Policy().psi_suites
    assert OT_PSI_SUITE in OT_POLICY.psi_suites
    init, resp = make_parties(max_items=32, psi_suite=OT_PSI_SUITE)  # the responder's default policy
    with pytest.raises(RemoteError, match="engine"):
        init.receive(resp.receive(init.start()))


def test_demo_bin_filling_initiator_tests_one_candidate_per_bin() -> None:
    """Demonstration (documented): even without known items, a deviating initiator declaring 4 items
    fills all ``cuckoo_bins(4) = 41`` bins with candidates (an honest one fills the empty ones with
    random dummies, indistinguishable) and learns membership for 41 candidates, ten times its cap."""
    theirs = A.items("c", range(0, 400, 2))
    resp = OtResponder(theirs, seed=os.urandom(32), peer_size=4, session_id=SID)
    tested, found = A.bin_filling_probe(A.items("c", range(400)), resp, n_i=4)
    assert len(tested) == cuckoo_bins(4) == 41
    assert sorted(found) == sorted(set(tested) & set(theirs)) and len(found) > 4


def test_doc_accounts_for_one_candidate_per_bin() -> None:
    """The responder's ``max_items_initiator`` is what bounds dictionary probing in the DH engine. Under
    this engine a deviating initiator tests ``cuckoo_bins(n_I)`` candidates (41 for n_I = 4, 97 for 16,
    1.57 n at 4096): protocol-ot.md must state it."""
    text = _doc_section("What it does not protect").lower()
    assert re.search(
        r"(candidate|item)s? (per|in each|in every|for each) bin|cuckoo_bins\(|every bin"
        r"|bins[^.]*(candidate|probe|test)|(candidate|probe|test)[^.]*\bbins\b",
        text,
    ), "the one-candidate-per-bin factor is not stated"


# -- 2. a deviating responder (s = 0) fabricates matches, and in mutual reads the initiator's bins -----------


def test_demo_zero_choice_responder_fabricates_every_match() -> None:
    """Demonstration (documented): a responder that picks its base-OT choice bits ``s = 0`` has ``Q = T``
    and so every ``H(b, t_b)``; it puts them in its lists (no value repeated, any order) and the initiator
    reports *every* one of its items as shared, although the responder holds none of them and never
    learned them. (In the DH engine a deviating responder can only claim items it can guess.)"""
    mine = A.items("mine", range(4))
    init, _, _ = A.zero_choice_run(mine, n_r=41, mode="intersection")
    assert sorted(init.result.matched or []) == sorted(mine)
    init, _, m5 = A.zero_choice_run(mine, n_r=41, mode="mutual")
    assert sorted(init.result.matched or []) == sorted(mine) and m5 is not None


def test_doc_says_a_deviating_responder_can_make_every_item_match() -> None:
    """protocol-ot.md's "False matches ... <= 2^-40" holds for an honest responder only; a deviating one
    (``s = 0``) makes the initiator report every one of its items as shared, without knowing any (above).
    A user acting on matches (blocking, reporting "the peer has seen X") must be told."""
    text = _doc_section("What it does not protect").lower()
    assert re.search(r"s ?= ?0|zero choice|all-zero|choice bits", text), "the deviation is not named"
    assert re.search(r"(every|all)[^.]*(match|shared)", text)


def test_demo_zero_choice_responder_learns_occupied_bins_in_mutual() -> None:
    """Demonstration (documented): in ``mutual`` the initiator confirms which of the responder's positions
    matched. A responder with ``s = 0`` lists ``H(b, t_b)`` of every bin, at positions it chose per list
    (it declares ``n_R = 3 bins``), so the confirm tells it which bins hold a real item and under which
    hash function; it learns the cuckoo key when the initiator opens its share in message 3, before the
    confirm, and filters any dictionary with it. The intersection is empty here, yet three sessions narrow
    300 candidates to a handful that contains the initiator's 4 items. The two-share key and the ``n_I``
    bound on the confirm do not stop it (an honest initiator's confirm marks at most ``n_I`` anyway);
    running ``mutual`` as two runs with roles swapped (no confirm) would, at the price of exposing each side
    to the probing initiator above (docs/protocol-ot.md)."""
    mine = A.items("c", [3, 77, 150, 222])
    dictionary = A.items("c", range(300))
    remaining = set(dictionary)
    for i in range(3):
        init, bad, m5 = A.zero_choice_run(mine, n_r=3 * cuckoo_bins(4), mode="mutual", sid=bytes([i]) * 16)
        assert m5 is not None and sorted(init.result.matched or []) == sorted(mine)
        remaining &= set(bad.consistent(dictionary, bad.occupied(m5)))
    assert set(mine) <= remaining
    assert len(remaining) < len(dictionary) // 10, f"300 candidates narrowed to {len(remaining)} only"


def test_doc_says_the_mutual_confirm_shows_a_deviating_responder_the_occupied_bins() -> None:
    """The leak demonstrated above is documented: a responder with ``s = 0`` learns, in ``mutual``, the
    occupied bins (or positions) of the initiator's table from its confirm."""
    text = _doc_section("What it does not protect").lower()
    assert "mutual" in text and "confirm" in text
    assert re.search(r"s ?= ?0|zero choice|all-zero|choice bits", text)
    assert re.search(r"occupied|occupancy|which bins|which positions", text)


def _items_marked(resp: OtResponder, m5: bytes) -> list[bytes]:
    """What an honest responder reads off a mutual confirm: the items at the marked positions of its
    (shared) list order -- one bit per item, nothing about the initiator's hash functions."""
    _, _, body = unpack(m5, T_CONFIRM, "mutual", resp._sid, None)
    bits = np.unpackbits(np.frombuffer(body, dtype=np.uint8), bitorder="little")
    n = resp.sizes.n_r
    assert len(bits) == n + (-n) % 8 and not bits[n:].any()
    return sorted(resp._items[int(resp._order[p])] for p in np.flatnonzero(bits[:n]).tolist())


def test_mutual_confirm_view_depends_only_on_the_intersection() -> None:
    """Fixed: the confirm used to be per list, so even an honest responder learned which hash function
    placed each shared item in the initiator's cuckoo table (a function of the initiator's *whole* set).
    Now the three lists share one order and the confirm has one bit per position (``n_R`` bits): six
    initiator sets with the same intersection give the responder byte-identical confirms, marking the
    shared items' positions exactly."""
    shared = A.items("shared", range(12))
    theirs = shared + A.items("r", range(40))
    seeds = (bytes(32), bytes(range(32)))
    views, confirms = [], set()
    for variant in range(6):
        mine = shared + A.items(f"v{variant}-", range(20))
        init, resp = _pair(mine, theirs, "mutual", seeds=seeds)
        msgs = _run(init, resp)
        assert sorted(resp.result.matched or []) == sorted(shared)
        assert len(msgs[-1]) == HEADER_BYTES + (len(theirs) + 7) // 8
        views.append(_items_marked(resp, msgs[-1]))
        confirms.add(msgs[-1])
    assert all(v == sorted(shared) for v in views), "the responder's view changes with non-shared items"
    assert len(confirms) == 1


def test_mutual_confirm_claiming_more_than_n_i_items_is_refused() -> None:
    """Fixed: a confirm marking every position (or ``n_I + 1`` of them) would make a 4-item initiator's
    responder report up to all 50 of its items as shared; the DH engine bounds such a claim by the
    initiator's own ``n_I`` blinded items, and so does this one now: more than ``n_I`` marked positions is
    a remote error (and the party is dead). ``n_I`` marks, even wrong ones, are accepted (a dishonest
    initiator can misreport, as in the DH engine)."""
    mine, theirs = A.items("c", range(4)), A.items("c", range(100, 150))
    n = len(theirs)
    for marks, refused in ((n, True), (len(mine) + 1, True), (len(mine), False)):
        init, resp = _pair(mine, theirs, "mutual")
        m3 = init.finish(resp.respond(init.start()))
        assert m3 is not None
        init.finish(resp.respond(m3))
        bits = np.zeros(n + (-n) % 8, dtype=np.uint8)
        bits[:marks] = 1
        forged = pack(T_CONFIRM, "mutual", SID, np.packbits(bits, bitorder="little").tobytes())
        if refused:
            with pytest.raises(RemoteError):
                resp.finish(forged)
            assert resp.failed
        else:
            resp.finish(forged)
            assert len(resp.result.matched or []) == len(mine)


# -- 3. smaller problems -----------------------------------------------------------------------------------


def test_hostile_accept_past_the_engines_limit_is_a_remote_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed: an OT manifest may not allow more than the engine's 2^24 items a side (``otpsi MAX_ITEMS``;
    2^24 already means a 1.4 GB ``U``), so a responder that declares 2^25 (a valid pow2 size under the
    general ``MAX_ITEMS_LIMIT``) exceeds the agreed cap: a remote error at the initiator, not a local
    ``InvalidParameter`` from ``OtInitiator``. A proposal or manifest past 2^24 is refused too."""
    import blindmatch.session.responder as responder_mod
    from blindmatch.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="OT engine"):
        make_parties(max_items=(16, 1 << 25), psi_suite=OT_PSI_SUITE, policy=OT_POLICY)[0].start()
    init, _ = make_parties(max_items=(16, 1 << 24), psi_suite=OT_PSI_SUITE, policy=OT_POLICY)
    init.start()
    doc = init.manifest.to_dict() if init.manifest is not None else {}
    with pytest.raises(MalformedMessage):
        Manifest.from_dict({**doc, "max_items_responder": 1 << 25})
    monkeypatch.setattr(responder_mod, "padded_size", lambda rule, n, cap: 1 << 25)
    monkeypatch.setattr(responder_mod, "dummies", lambda seed, count: [])
    init, resp = make_parties(max_items=(16, 1 << 24), psi_suite=OT_PSI_SUITE, policy=OT_POLICY)
    accept = resp.receive(init.start())
    assert accept is not None
    with pytest.raises(RemoteError):
        init.receive(accept)


def test_a_reused_seed_gives_fresh_oprf_keys_per_session() -> None:
    """Fixed: every secret of a party derives from a sub-seed bound to the session id, so a caller that
    reuses a seed (a fixed test seed, a restored process) still gets fresh choice bits ``s``, code key and
    cuckoo-key share in a new session (libPSI#40); the initiator's share (and so its commitment) and its
    dummy bins are fresh too."""
    seed = bytes(range(32))
    got, commits = [], []
    for sid in (bytes(16), bytes([1]) * 16):
        init = OtInitiator([b"a"], seed=seed, peer_size=1, session_id=sid)
        resp = OtResponder([b"b"], seed=seed, peer_size=1, session_id=sid)
        m1 = init.start()
        m2 = resp.respond(m1)
        got.append((resp._choices, m2[-32:]))
        commits.append((m1[-32:], init._share))
    assert got[0][0] != got[1][0] and got[0][1][:16] != got[1][1][:16] and got[0][1][16:] != got[1][1][16:]
    assert commits[0][0] != commits[1][0] and commits[0][1] != commits[1][1]


def _repeat_first(m4: bytes, sizes: Sizes, h: int = 0, at: int = 1) -> bytes:
    """Message 4 with list ``h``'s value at position ``at`` replaced by its value at position 0."""
    vb, n = sizes.value_bytes, sizes.n_r
    body = bytearray(m4[HEADER_BYTES:])
    off = h * n * vb
    body[off + at * vb : off + (at + 1) * vb] = body[off : off + vb]
    return m4[:HEADER_BYTES] + bytes(body)


def test_a_failed_party_is_dead() -> None:
    """Fixed: "a bad message [raises] the PSI layer's remote errors ..., after which the party is dead":
    after a value list that repeats a value (or a confirm with a padding bit set, or a bad message 1) the
    same party refuses any further call with ``LocalProtocolError``, the genuine message included."""
    init, resp = _pair(A.items("c", range(10)), A.items("c", range(5, 55)), "mutual")
    m3 = init.finish(resp.respond(init.start()))
    assert m3 is not None
    m4 = resp.respond(m3)
    with pytest.raises(RemoteError):
        init.finish(_repeat_first(m4, init.sizes))
    assert init.failed
    with pytest.raises(LocalProtocolError):
        init.finish(m4)
    init, resp = _pair(A.items("c", range(10)), A.items("c", range(5, 55)), "mutual")
    m3 = init.finish(resp.respond(init.start()))
    assert m3 is not None
    m5 = init.finish(resp.respond(m3))
    assert m5 is not None and resp.sizes.n_r % 8  # 50 bits: six padding bits
    with pytest.raises(RemoteError):
        resp.finish(m5[:-1] + bytes([m5[-1] | 0x80]))
    assert resp.failed
    with pytest.raises(LocalProtocolError):
        resp.finish(m5)
    init, resp = _pair(A.items("c", range(10)), A.items("c", range(5, 55)), "mutual")
    m1 = init.start()
    with pytest.raises(RemoteError):
        resp.respond(m1[:HEADER_BYTES] + bytes(4) + m1[HEADER_BYTES + 4 :])  # n_I = 0: not the declared size
    with pytest.raises(LocalProtocolError):
        resp.respond(m1)


def test_cuckoo_key_is_not_the_responders_choice_alone() -> None:
    """Fixed: the initiator's bins used to come from a cuckoo key the responder picked (and could grind:
    a key sending 4 guessed items into 3 bins makes insertion fail, an abort oracle for "the initiator
    holds all 4"). Now the key is ``_cuckoo_key(sid, responder share, initiator share)``: the initiator's
    share is committed in message 1 (before the responder picks its share) and opened in message 3 (after
    the initiator has placed its items); the responder refuses a share that does not open the commitment.
    """
    from blindmatch.otpsi import item_hashes
    from blindmatch.psi._cuckoo import bin_indexes

    mine = A.items("c", range(4))
    init, resp = _pair(mine, A.items("d", range(4)))
    m1 = init.start()
    _, _, b1 = unpack(m1, T_START, None, SID, None)
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    assert m3 is not None
    r_share, i_share = m2[-KEY:], m3[-KEY:]
    assert b1[8 + POINT :] == _commitment(SID, i_share) and i_share not in m1
    bins = init.sizes.bins
    idx = bin_indexes(item_hashes(mine, SID), r_share, bins)
    from_m2 = [int(idx[i, init._which[i]]) for i in range(len(mine))]
    assert from_m2 != init._bin_of.tolist(), "the bins are those of message 2's share alone"
    idx = bin_indexes(item_hashes(mine, SID), _cuckoo_key(SID, r_share, i_share), bins)
    assert [int(idx[i, init._which[i]]) for i in range(len(mine))] == init._bin_of.tolist()
    for other in (bytes(KEY), r_share, bytes(x ^ 1 for x in i_share)):  # a share that opens nothing
        init2, resp2 = _pair(mine, A.items("d", range(4)))
        m3b = init2.finish(resp2.respond(init2.start()))
        assert m3b is not None
        with pytest.raises(RemoteError):
            resp2.respond(m3b[:-KEY] + other)
        assert resp2.failed


def test_held_hostile_psi_payloads_through_a_session_are_session_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A responder whose OT party sends a value list that repeats a value (properly sealed and signed):
    the initiator session fails with the session's ``MalformedMessage`` (``psi_boundary``), a remote
    error."""
    real = OtResponder.respond

    def repeated(self: OtResponder, message: bytes) -> bytes:
        out = real(self, message)
        if self.next_message_expected != "request" and self.sizes.n_r > 1:
            out = _repeat_first(out, self.sizes)
        return out

    monkeypatch.setattr(OtResponder, "respond", repeated)
    init, resp = _ot_session("mutual")
    m1 = init.receive(resp.receive(init.start()))
    m3 = init.receive(resp.receive(m1))
    with pytest.raises(MalformedMessage):
        init.receive(resp.receive(m3))
    assert init.failed and init.record()["outcome"]["status"] == "failed"


# ======================================================================================= attacks that held


SMALL_ORDER = [
    bytes([1]) + bytes(31),  # identity
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    bytes(32),  # order 4
    bytes(31) + b"\x80",  # order 4
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
]
NON_CANONICAL = bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")  # y = p
G = nb.crypto_scalarmult_ed25519_base_noclamp((9).to_bytes(32, "little"))
MIXED = nb.crypto_core_ed25519_add(G, SMALL_ORDER[4])  # off the prime-order subgroup


@pytest.mark.parametrize("point", [*SMALL_ORDER, NON_CANONICAL, MIXED, b"\xff" * 32])
def test_held_bad_s_in_message_1(point: bytes) -> None:
    """``S`` is body[8:40] of message 1 (the commitment to the initiator's share follows it)."""
    init, resp = _pair([b"a"], [b"b"])
    m1 = init.start()
    at = HEADER_BYTES + 8
    with pytest.raises(InvalidGroupElement):
        resp.respond(m1[:at] + point + m1[at + POINT :])
    assert resp.failed


@pytest.mark.parametrize("point", [*SMALL_ORDER, NON_CANONICAL, MIXED])
@pytest.mark.parametrize("index", [0, 511])
def test_held_bad_r_i_in_message_2(point: bytes, index: int) -> None:
    init, resp = _pair([b"a"], [b"b"])
    m2 = bytearray(resp.respond(init.start()))
    m2[HEADER_BYTES + 32 * index : HEADER_BYTES + 32 * (index + 1)] = point
    with pytest.raises(InvalidGroupElement):
        init.finish(bytes(m2))


def test_held_base_ot_keys_bound_to_index_and_context() -> None:
    """The receiver computes both candidate points (its choice does not change its work), and each key
    hashes the context, ``S``, ``R_i`` and ``i``: the same points under another index or context give
    unrelated keys, and the sender's pair holds the receiver's key at its choice."""
    choices = os.urandom(64)
    sender, s_point = ot.base_ot_sender_start(os.urandom(32), b"ctx-1")
    msg2, keys = ot.base_ot_receiver(choices, s_point, bytes(32), b"ctx-1")
    pairs = sender.finish(msg2)
    bits = np.unpackbits(np.frombuffer(choices, np.uint8), bitorder="little")
    assert all(keys[i] == pairs[i][bits[i]] and keys[i] != pairs[i][1 - bits[i]] for i in range(512))
    _, keys2 = ot.base_ot_receiver(choices, s_point, bytes(32), b"ctx-2")
    assert not set(keys) & set(keys2)
    assert len(set(keys)) == 512


def test_held_random_bodies_give_remote_errors_or_empty_results() -> None:
    """Random bodies of the exact length at each step: a remote error (a random message 3 does not open
    the commitment of message 1), or (a random ``U`` followed by the genuine share; random lists) a
    completed run in which nothing matches."""
    mine, theirs = A.items("c", range(30)), A.items("c", range(10, 60))
    for _ in range(3):
        init, resp = _pair(mine, theirs)
        m1 = init.start()
        with pytest.raises(RemoteError):
            resp.respond(m1[:HEADER_BYTES] + os.urandom(len(m1) - HEADER_BYTES))
        init, resp = _pair(mine, theirs)
        m2 = resp.respond(init.start())
        with pytest.raises(RemoteError):
            init.finish(m2[:HEADER_BYTES] + os.urandom(len(m2) - HEADER_BYTES))
        init, resp = _pair(mine, theirs)
        m3 = init.finish(resp.respond(init.start()))
        assert m3 is not None
        with pytest.raises(RemoteError):  # the share no longer opens the commitment
            resp.respond(m3[:HEADER_BYTES] + os.urandom(len(m3) - HEADER_BYTES))
        init, resp = _pair(mine, theirs)
        m3 = init.finish(resp.respond(init.start()))
        assert m3 is not None
        m4 = resp.respond(m3[:HEADER_BYTES] + os.urandom(len(m3) - HEADER_BYTES - KEY) + m3[-KEY:])
        init.finish(m4)  # accepted: semi-honest
        assert init.result.matched == []  # the crafted U breaks the correlation: nothing matches
        init, resp = _pair(mine, theirs)
        m3 = init.finish(resp.respond(init.start()))
        assert m3 is not None
        m4 = resp.respond(m3)
        s = init.sizes
        init.finish(m4[:HEADER_BYTES] + os.urandom(3 * s.n_r * s.value_bytes))
        assert init.result.matched == []


def test_held_repeated_values_are_refused() -> None:
    """The lists are in the responder's (secret) order, not sorted: a list that repeats a value, next to
    the first or far from it, in any of the three lists, is a remote error; a reordered list is not (the
    intersection result is the same)."""
    mine, theirs = A.items("c", range(10)), A.items("c", range(5, 25))
    n = len(theirs)
    for h in range(3):
        for at in (1, n - 1):
            init, resp = _pair(mine, theirs)
            m3 = init.finish(resp.respond(init.start()))
            assert m3 is not None
            m4 = resp.respond(m3)
            with pytest.raises(RemoteError):
                init.finish(_repeat_first(m4, init.sizes, h, at))
            assert init.failed
    init, resp = _pair(mine, theirs, "intersection")
    m3 = init.finish(resp.respond(init.start()))
    assert m3 is not None
    m4 = resp.respond(m3)
    s = init.sizes
    lists = A.split_lists(m4, s, SID, "intersection")
    swapped = b"".join(x[::-1].tobytes() for x in lists)
    assert init.finish(pack(T_VALUES, "intersection", SID, swapped)) is None
    assert sorted(init.result.matched or []) == A.items("c", range(5, 10))


def test_held_messages_of_the_other_engine_are_remote_errors() -> None:
    a, b = A.items("c", range(8)), A.items("c", range(4, 12))
    ot_init, ot_resp = _pair(a, b)
    dh_init = DhInitiator(a, "mutual", seed=os.urandom(32))
    dh_resp = DhResponder(b, seed=os.urandom(32))
    dh_req = dh_init.start()
    ot_m1 = ot_init.start()
    with pytest.raises(RemoteError):
        ot_resp.respond(dh_req)
    with pytest.raises(RemoteError):
        dh_resp.respond(ot_m1)
    ot_m2 = OtResponder(b, seed=os.urandom(32), peer_size=len(a), session_id=SID).respond(ot_m1)
    with pytest.raises(RemoteError):
        dh_init.finish(ot_m2)


def test_held_wrong_messages_while_waiting_for_message_3() -> None:
    """Message 1 replayed, message 2 reflected, or a confirm padded to the matrix's length and sent early,
    while the responder waits for message 3: remote errors."""
    init, resp = _pair(A.items("c", range(5)), A.items("c", range(5)))
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    assert m3 is not None
    early = pack(T_CONFIRM, "mutual", SID, bytes(len(m3) - HEADER_BYTES))
    for bad in (m1, m2, early, m3[:-1], m3 + b"\0"):
        fresh_i, fresh_r = _pair(A.items("c", range(5)), A.items("c", range(5)))
        fresh_r.respond(fresh_i.start())
        with pytest.raises(RemoteError):
            fresh_r.respond(bad)
    with pytest.raises(RemoteError):  # the responder's message 2 fed to the initiator again, as message 4
        init.finish(m2)


def _ot_session(mode: str):
    return make_parties(max_items=32, psi_suite=OT_PSI_SUITE, mode=mode, policy=OT_POLICY)


@pytest.mark.parametrize("mode", ["intersection", "mutual"])
def test_held_session_max_next_message_is_each_rounds_exact_size(mode: str) -> None:
    init, resp = _ot_session(mode)
    wire = [init.start()]
    parties = [resp, init]
    i = 0
    while True:
        receiver = parties[i % 2]
        if len(wire) > 2:  # data messages: exactly the declared sizes' length, round by round
            assert receiver.max_next_message == len(wire[-1])
        else:  # handshake messages: a bound
            assert receiver.max_next_message >= len(wire[-1])
        out = receiver.receive(wire[-1])
        if out is None:
            break
        wire.append(out)
        i += 1
    assert len(wire) == (7 if mode == "mutual" else 6)  # hello, accept, 4 data (+ confirm)
    assert init.result is not None and resp.result is not None
    assert init.max_next_message == resp.max_next_message == 0


def test_held_session_replayed_and_reflected_data_in_the_ot_rounds() -> None:
    """The new AWAIT_REQUEST -> AWAIT_REQUEST and AWAIT_RESPONSE -> AWAIT_RESPONSE transitions keep the
    session's sequence, transcript and role checks: message 1 replayed to a responder that waits for
    message 3 is ``Replayed``; the initiator's own message fed back to it is ``Reflected``."""
    init, resp = _ot_session("mutual")
    m1 = init.receive(resp.receive(init.start()))
    assert m1 is not None
    m2 = resp.receive(m1)
    assert m2 is not None and resp.state.name == "AWAIT_REQUEST"
    with pytest.raises(Replayed):
        resp.receive(m1)
    init, resp = _ot_session("mutual")
    m1 = init.receive(resp.receive(init.start()))
    assert m1 is not None
    with pytest.raises(Reflected):
        init.receive(m1)
    init, resp = _ot_session("mutual")
    m1 = init.receive(resp.receive(init.start()))
    m2 = resp.receive(m1)
    m3 = init.receive(m2)
    assert m3 is not None and init.state.name == "AWAIT_RESPONSE"
    with pytest.raises(Replayed):
        init.receive(m2)


def test_held_manifest_refuses_ot_with_count_only_modes_or_audit() -> None:
    init, _ = _ot_session("intersection")
    doc = init.manifest.to_dict() if init.manifest is not None else {}
    for change in ({"mode": "cardinality"}, {"mode": "mutual-cardinality"}):
        with pytest.raises(MalformedMessage):
            Manifest.from_dict({**doc, **change})
    audit = {"auditor": bytes(range(32)).hex(), "rate_ppm": 10_000, "deadline_s": 86400}
    with pytest.raises(MalformedMessage):
        Manifest.from_dict({**doc, "audit": audit})


@pytest.mark.parametrize(
    ("n_i", "n_r"), [(0, 0), (1, 1), (4, 4), (1000, 5000), (1 << 20, 1 << 20), (1 << 24, 1 << 24)]
)
def test_held_value_length_meets_the_false_match_rule(n_i: int, n_r: int) -> None:
    s = Sizes(n_i, n_r, 3)
    assert 8 * s.value_bytes >= 40 + math.log2(3 * max(n_i, 1) * max(n_r, 1))


def _positions_seen(init: OtInitiator, m4: bytes) -> dict[bytes, int]:
    """What an initiator reads off message 4: the position of each of its matched items in the lists."""
    s = init.sizes
    lists = A.split_lists(m4, s, init._sid, init.mode)
    where = [{v: p for p, v in enumerate(x.tolist())} for x in lists]
    own = init._own.view(f"S{s.value_bytes}").ravel().tolist()
    return {x: where[int(h)][v] for x, h, v in zip(init._items, init._which, own, strict=True)
            if v in where[int(h)]}  # fmt: skip


def test_held_responder_lists_do_not_follow_its_item_order() -> None:
    """The lists hide the responder's item order: the three share one secret random order (a permutation
    drawn from the responder's session sub-seed), so the positions an initiator that holds every one of
    the responder's items reads off them follow neither the responder's input order nor the values, the
    same item sits at the same position in whichever list placed it, the order changes with the session,
    and the mutual confirm still maps back to the right items."""
    theirs = A.items("c", range(10, 70))
    mine = A.items("c", range(80))  # a superset: the initiator finds every position
    seeds = (bytes(32), bytes(range(32)))
    seen = []
    for order, sid in ((theirs, SID), (theirs[::-1], SID), (theirs, bytes(16))):
        init, resp = _pair(mine, order, "mutual", sid=sid, seeds=seeds)
        msgs = _run(init, resp)
        assert sorted(resp.result.matched or []) == sorted(theirs)
        pos = _positions_seen(init, msgs[3])
        assert sorted(pos.values()) == list(range(len(theirs)))
        in_input_order = [pos[x] for x in order]
        assert in_input_order not in (sorted(in_input_order), sorted(in_input_order, reverse=True))
        assert all(resp._items[int(resp._order[p])] == x for x, p in pos.items())
        seen.append(pos)
    assert seen[0] != seen[2], "the same items, seed and order give the same positions in another session"
    for h in range(3):  # positions are not sorted by value
        lst = A.split_lists(msgs[3], init.sizes, bytes(16), "mutual")[h]
        assert lst.tolist() != sorted(lst.tolist())


def test_held_no_secret_in_reprs_or_errors() -> None:
    seed = bytes(range(100, 132))
    init, resp = _pair(A.items("c", range(5)), A.items("c", range(5)), seeds=(seed, seed))
    m2 = resp.respond(init.start())
    secrets = [seed.hex(), resp._choices.hex(), m2[-32:-16].hex()]
    texts = [repr(init), repr(resp), repr(init._base), str(vars(init.sizes))]
    bad = bytearray(m2)
    bad[HEADER_BYTES : HEADER_BYTES + 32] = SMALL_ORDER[0]
    try:
        init.finish(bytes(bad))
    except RemoteError as exc:
        texts.append(str(exc))
    for text in texts:
        assert not any(s in text or s[:16] in text for s in secrets)


def test_held_sizes_and_types_in_message_1_are_checked() -> None:
    """Message 1's declared sizes must equal the session's, its mode one the responder allows."""
    init, _ = _pair(A.items("c", range(5)), A.items("c", range(7)))
    m1 = init.start()
    _, _, body = unpack(m1, T_START, None, SID, None)
    for n_i, n_r in ((6, 7), (5, 8), (2**32 - 1, 7)):
        forged = pack(T_START, "mutual", SID, n_i.to_bytes(4, "big") + n_r.to_bytes(4, "big") + body[8:])
        fresh = _pair(A.items("c", range(5)), A.items("c", range(7)))[1]
        with pytest.raises(RemoteError):
            fresh.respond(forged)
    only = OtResponder(A.items("c", range(7)), allowed_modes=("intersection",), seed=bytes(32), peer_size=5,
                       session_id=SID)  # fmt: skip
    with pytest.raises(RemoteError):
        only.respond(m1)
