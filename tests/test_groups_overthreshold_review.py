"""Adversarial review of the over-threshold core (docs/groups.md): a malicious lab, a malicious coordinator, a
hostile network peer and a careless caller. Attacks the design stops are ordinary tests; each finding has a
test that failed before its fix."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import InvalidParameter, LocalProtocolError, RemoteError
from blindmatch.groups import overthreshold
from blindmatch.groups.overthreshold import (
    FIELD,
    Hop,
    OverThresholdError,
    RingLab,
    RunParams,
    _eval,
    _lagrange_at_zero,
    _poly,
    _ring_at,
    _tag,
    bins_and_slots,
    coordinate,
    run_in_memory,
)
from blindmatch.hazmat import oprf
from blindmatch.hazmat._ed25519 import ORDER, base_mul, scalar_bytes
from blindmatch.session.padding import DUMMY_PREFIX

IDENTITY = bytes([1]) + bytes(31)
SMALL_ORDER = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")  # order 8
NON_CANONICAL = bytes([0xED]) + b"\xff" * 30 + b"\x7f"  # y = p (not reduced)


def _labs(
    sets: list[list[bytes]] | None = None, t: int = 2, n_items: int = 8, round_id: bytes = bytes(16)
) -> tuple[RunParams, dict[int, RingLab]]:
    sets = sets or [[b"a", b"b", bytes([i])] for i in range(1, 4)]
    n = len(sets)
    params = RunParams(n, t, n_items, round_id)
    labs = {i: RingLab(i, sets[i - 1], params, seed=bytes([i]) * 32) for i in range(1, n + 1)}
    params = params.with_keys({i: lab.public_key for i, lab in labs.items()})
    for lab in labs.values():
        lab.params = params
    return params, labs


def _around(labs: dict[int, RingLab], owner: int) -> Hop:
    """The owner's list after every other lab (not yet finished)."""
    hop = labs[owner].start()
    for steps in range(1, len(labs)):
        hop = labs[_ring_at(owner, steps, len(labs))].apply(hop)
    return hop


def _finished(labs: dict[int, RingLab]) -> None:
    for i, lab in labs.items():
        lab.finish(_around(labs, i))


# --- findings --------------------------------------------------------------------------------------------


def _mixed_pair(t: int) -> tuple[bytes, bytes]:
    """Two items that fall in one bin of lab 1 (a malicious lab needs such a pair; with ~4 items per bin it
    has many)."""
    cands = [f"item{k}".encode() for k in range(6)]
    params, labs = _labs([cands] * 3, t=t)
    _finished(labs)
    f1 = dict(zip(labs[1]._items, labs[1]._f or [], strict=True))
    bins, _ = params.bins
    where = {c: _poly(f1[c], bins, t)[0] for c in cands}
    return next((a, b) for a in cands for b in cands if a != b and where[a] == where[b])


def test_one_lab_cannot_mix_two_items_shares_into_a_passing_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """t = 3, n = 3. Lab 1 holds x and z (one bin); lab 2 holds only x, lab 3 only z: both items have two
    holders, below the threshold. Lab 1 knows every share of its own items, so it uploads, in a spare slot,
    the value that completes (lab 2's share of x, lab 3's share of z) to a zero sum. Without the tags the
    set passed (lab 1 learnt that lab 2 holds x and lab 3 holds z, and labs 2 and 3 were told x and z reach
    the threshold); with them, lab 1's one free tag share can match lab 2's tag or lab 3's, not both."""
    x, z = _mixed_pair(3)
    params, labs = _labs([[x, z], [x], [z]], t=3)
    _finished(labs)
    uploads = {i: lab.shares() for i, lab in labs.items()}
    assert [labs[i].results(coordinate(params, uploads)[i]) for i in (1, 2, 3)] == [[], [], []]
    bins, m = params.bins
    f1 = dict(zip(labs[1]._items, labs[1]._f or [], strict=True))
    b, cx, rx = _poly(f1[x], bins, 3)
    _, cz, rz = _poly(f1[z], bins, 3)
    lam = _lagrange_at_zero([1, 2, 3])
    y1 = -(lam[1] * _eval(cx, 2) + lam[2] * _eval(cz, 3)) * pow(lam[0], -1, FIELD) % FIELD
    # the best lab 1 can do with its tag share: make the set's tag secret x's (so lab 2's tag checks)
    r_x2, r_z3 = (rx[0] + _eval(rx[1:], 2)) % FIELD, (rz[0] + _eval(rz[1:], 3)) % FIELD
    r1 = (rx[0] - lam[1] * r_x2 - lam[2] * r_z3) * pow(lam[0], -1, FIELD) % FIELD
    forged = (y1, r1, _tag(rx[0], 1))
    slots = labs[1]._slots or {}
    spare = next(  # a slot of padding, or of one of our dummy items
        s
        for s in range(m)
        if b * m + s not in slots or labs[1]._items[slots[b * m + s]].startswith(DUMMY_PREFIX)
    )
    uploads[1][b][spare] = forged
    passed = coordinate(params, uploads)
    assert b * m + spare not in passed[1]
    assert [labs[i].results(passed[i]) for i in (1, 2, 3)] == [[], [], []]
    # the attack is real: with the tag check switched off, the mixed set passes
    monkeypatch.setattr(overthreshold, "_tags_agree", lambda *_: True)
    assert b * m + spare in coordinate(params, uploads)[1]


def test_a_lab_applies_its_key_to_one_list_per_owner() -> None:
    """An owner that sends a second list round the ring gets F for 2N items (then uploads shares of all of
    them: B*m slots hold far more than N): the run's budget of N guesses is gone. Every lab applies its key
    to one list per owner and run; the same hop again is the caller's repeat (local), another list from
    that owner is a hostile peer's (remote)."""
    params, labs = _labs()
    first = labs[1].start()
    labs[2].apply(first)
    second = RingLab(1, [b"guess1", b"guess2"], params, seed=bytes([1]) * 32).start()
    with pytest.raises(OverThresholdError, match="second list"):
        labs[2].apply(second)
    with pytest.raises(LocalProtocolError):
        labs[2].apply(first)


def _malformed_hops(hop: Hop) -> list[object]:
    p, c, q = hop.points, hop.chain, hop.proofs
    return [
        None,
        "hop",
        dataclasses.replace(hop, owner=None),  # type: ignore[arg-type]
        dataclasses.replace(hop, owner=1.0),  # type: ignore[arg-type]
        dataclasses.replace(hop, owner="1"),  # type: ignore[arg-type]
        dataclasses.replace(hop, owner=-1),
        dataclasses.replace(hop, owner=10**9),
        dataclasses.replace(hop, points=None),  # type: ignore[arg-type]
        dataclasses.replace(hop, points=(b"\x01",) * len(p)),
        dataclasses.replace(hop, points=([1],) * len(p)),  # type: ignore[arg-type]
        dataclasses.replace(hop, points=(IDENTITY, *p[1:])),
        dataclasses.replace(hop, points=(SMALL_ORDER, *p[1:])),
        dataclasses.replace(hop, points=(NON_CANONICAL, *p[1:])),
        dataclasses.replace(hop, chain=()),
        dataclasses.replace(hop, chain=None),  # type: ignore[arg-type]
        dataclasses.replace(hop, chain=("x", *c[1:])),  # type: ignore[arg-type]
        dataclasses.replace(hop, chain=([1], *c[1:])),  # type: ignore[arg-type]
        dataclasses.replace(hop, chain=(*c[:-1], 5)),  # type: ignore[arg-type]
        dataclasses.replace(hop, chain=(*c[:-1], IDENTITY)),
        dataclasses.replace(hop, chain=(*c[:-1], SMALL_ORDER)),
        dataclasses.replace(hop, chain=(*c[:-1], NON_CANONICAL)),
        dataclasses.replace(hop, chain=c + c[-1:]),
        dataclasses.replace(hop, proofs=None),  # type: ignore[arg-type]
        dataclasses.replace(hop, proofs=q[:-1]),
        dataclasses.replace(hop, proofs=q + q[-1:]),
        dataclasses.replace(hop, proofs=tuple(b"\x00" * 64 for _ in q)),
        dataclasses.replace(hop, proofs=tuple(x[:63] for x in q)),
        dataclasses.replace(hop, proofs=tuple(1 for _ in q)),  # type: ignore[misc]
    ]


def test_malformed_hops_raise_remote_errors_only() -> None:
    _, labs = _labs()
    sent = labs[1].start()
    mid = labs[2].apply(sent)
    back = labs[3].apply(mid)
    for bad in _malformed_hops(mid):
        with pytest.raises(RemoteError):
            labs[3].apply(bad)  # type: ignore[arg-type]
    for bad in _malformed_hops(back):
        _, fresh = _labs()
        fresh[1].start()
        with pytest.raises(RemoteError):
            fresh[1].finish(bad)  # type: ignore[arg-type]


_junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.text(max_size=3), st.binary(max_size=70))


@settings(max_examples=40, deadline=None)
@given(
    owner=st.one_of(_junk, st.integers(1, 3)),
    points=st.one_of(
        _junk, st.tuples(), st.lists(st.binary(min_size=31, max_size=33), max_size=9).map(tuple)
    ),
    chain=st.one_of(
        _junk, st.lists(st.one_of(st.binary(min_size=32, max_size=32), _junk), max_size=4).map(tuple)
    ),
    proofs=st.one_of(
        _junk, st.lists(st.one_of(st.binary(min_size=64, max_size=64), _junk), max_size=4).map(tuple)
    ),
)
def test_fuzzed_hops_raise_remote_errors_only(
    owner: object, points: object, chain: object, proofs: object
) -> None:
    hop = Hop(owner, points, chain, proofs)  # type: ignore[arg-type]
    _, labs = _labs()
    labs[1].start()
    for call in (labs[2].apply, labs[3].apply, labs[1].finish):
        with pytest.raises(RemoteError):
            call(hop)


def test_finish_after_a_failed_check_is_refused() -> None:
    """After a failed check the run is aborted and the owner may publish d (docs/groups.md, "Blame"); with d
    known, the last lab can alter two points so that the check still holds. The lab must refuse any further
    finish()."""
    _, labs = _labs()
    back = _around(labs, 1)
    pts = list(back.points)
    pts[0], pts[1] = pts[1], pts[0]
    with pytest.raises(OverThresholdError, match="altered"):
        labs[1].finish(dataclasses.replace(back, points=tuple(pts)))
    with pytest.raises(LocalProtocolError):
        labs[1].finish(back)
    with pytest.raises(LocalProtocolError):
        labs[1].shares()


def test_a_careless_caller_gets_typed_errors() -> None:
    params = RunParams(3, 2, 8, bytes(16))
    for bad in ([1, 2, 3], b"abc", ["a"], [bytearray(b"a")], [DUMMY_PREFIX + b"x"]):
        with pytest.raises(InvalidParameter):
            RingLab(1, bad, params, seed=bytes(32))  # type: ignore[arg-type]
    for n, t, size in ((3.0, 2, 8), (3, 2.0, 8), (3, 2, 8.0), (3, 2, 0), (3, 2, True), (True, 2, 8)):
        with pytest.raises(InvalidParameter):
            RunParams(n, t, size, bytes(16))  # type: ignore[arg-type]
    bins, m = params.bins
    good = [[1] * m for _ in range(bins)]
    for keys in ({1.0: good, 2: good, 3: good}, {"1": good, 2: good, 3: good}):
        with pytest.raises(InvalidParameter):
            coordinate(params, keys)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        coordinate(params, None)  # type: ignore[arg-type]


def test_a_malformed_answer_from_the_coordinator_is_a_remote_error() -> None:
    params, labs = _labs()
    _finished(labs)
    labs[1].shares()
    bins, m = params.bins
    for bad in ([[1]], [-1], [bins * m], [True], ["1"], None, "12"):
        with pytest.raises(OverThresholdError):
            labs[1].results(bad)  # type: ignore[arg-type]
    assert labs[1].results(set(range(bins * m))) == [b"\x01", b"a", b"b"]


# --- attacks the design stops --------------------------------------------------------------------------


def test_replayed_and_transplanted_proofs_are_refused() -> None:
    """Proofs bind the round id, the owner and the lab: a hop from another owner's list, another round, or
    with a proof moved onto another chain fails at the next receiver; truncated or extended chains fail."""
    _, labs = _labs()
    mid1 = labs[2].apply(labs[1].start())  # owner 1, by lab 2
    _, other = _labs(round_id=b"\x01" * 16)
    mid1_other_round = other[2].apply(other[1].start())
    cases = [
        dataclasses.replace(mid1, owner=3),  # owner 1's hop relabelled: ring order or proof fails
        dataclasses.replace(mid1_other_round),  # a hop of another round (its keys differ too)
        dataclasses.replace(mid1, chain=mid1_other_round.chain),
        dataclasses.replace(mid1, proofs=mid1_other_round.proofs),
        dataclasses.replace(mid1, chain=(mid1.chain[1], mid1.chain[1])),
        dataclasses.replace(mid1, chain=mid1.chain[:1], proofs=()),  # the proof dropped: out of order
    ]
    for bad in cases:
        with pytest.raises(OverThresholdError):
            labs[3].apply(bad)
    # the same key applied to the check value of another owner's list, with a proof for that owner
    mid3 = labs[1].apply(labs[3].start())  # owner 3, by lab 1
    with pytest.raises(OverThresholdError):
        labs[3].apply(dataclasses.replace(mid1, chain=(mid1.chain[0], mid3.chain[1]), proofs=mid3.proofs))


@pytest.mark.parametrize("how", ["replace", "other-run", "two-labs", "scaled", "reverse"])
def test_colluding_labs_cannot_alter_a_list_unnoticed(how: str) -> None:
    """Lab 2 alters the list after applying its key honestly to the check value; with ``two-labs``, lab 3
    alters another point too. The owner's check catches every variant."""
    _, labs = _labs()
    mid = labs[2].apply(labs[1].start())
    pts = list(mid.points)
    if how == "replace":
        pts[2] = base_mul(scalar_bytes(12345))
    elif how == "other-run":
        _, other = _labs(round_id=b"\x02" * 16)
        pts[2] = other[2].apply(other[1].start()).points[2]
    elif how == "scaled":  # every point by one more factor (a key the check value did not see)
        pts = oprf.evaluate(oprf.KindKey(b"", scalar_bytes(7), b""), pts)
    elif how == "reverse":
        pts.reverse()
    else:
        pts[2] = base_mul(scalar_bytes(5))
    back = labs[3].apply(dataclasses.replace(mid, points=tuple(pts)))
    if how == "two-labs":
        later = list(back.points)
        later[4] = base_mul(scalar_bytes(6))
        back = dataclasses.replace(back, points=tuple(later))
    with pytest.raises(OverThresholdError, match="altered"):
        labs[1].finish(back)


def test_state_machine_misuse_is_local() -> None:
    params, labs = _labs()
    with pytest.raises(LocalProtocolError):
        labs[1].shares()
    with pytest.raises(LocalProtocolError):
        labs[1].results([])
    back = _around(labs, 1)
    with pytest.raises(LocalProtocolError):
        labs[1].start()  # twice
    fresh = RingLab(1, [b"a"], params, seed=bytes([1]) * 32)
    with pytest.raises(LocalProtocolError):
        fresh.finish(back)  # before start
    with pytest.raises(OverThresholdError):
        labs[1].apply(back)  # its own list back home goes to finish(), not apply()
    labs[1].finish(back)
    with pytest.raises(LocalProtocolError):
        labs[1].finish(back)
    with pytest.raises(LocalProtocolError):
        labs[1].results([])  # before shares
    assert labs[1].shares() == labs[1].shares()  # deterministic: a repeat uploads the same table


def test_no_secret_in_reprs_or_messages() -> None:
    _, labs = _labs()
    lab = labs[1]
    hop = lab.start()
    secrets = [scalar_bytes(lab._key).hex(), scalar_bytes(lab._r).hex(), lab._seed.hex()]
    secrets += [scalar_bytes(lab._key).hex()[:16], lab._seed.hex()[:16]]
    shown = [repr(lab), str(lab.__class__), repr(lab.params), repr(hop)]
    back = _around(labs, 2)
    for bad in (dataclasses.replace(back, points=back.points[::-1]), dataclasses.replace(back, chain=())):
        try:
            labs[2].finish(bad)
        except Exception as exc:
            shown.append(str(exc))
    for text in shown:
        assert not any(s in text for s in secrets)


def test_randomness_is_fresh_per_round_lab_and_list() -> None:
    """The round key, the one-time scalar and the check coefficients differ between rounds (same seed) and
    between labs (same seed); a lab's check coefficients are distinct across its list."""
    _, a = _labs()
    _, b = _labs(round_id=b"\x05" * 16)
    params = RunParams(3, 2, 8, bytes(16))
    same_seed = [RingLab(i, [b"a"], params, seed=bytes(32)) for i in (1, 2)]
    for lab in (*a.values(), *b.values(), *same_seed):
        lab.start()
    labs = [*a.values(), *b.values(), *same_seed]
    assert len({lab._key for lab in labs}) == len(labs)
    assert len({lab._r for lab in labs}) == len(labs)
    coefs = [c for lab in labs for c in lab._coefficients()]
    assert len(set(coefs)) == len(coefs)
    assert all(0 < lab._key < ORDER and 0 < lab._r < ORDER for lab in labs)


def test_a_lone_lab_with_its_share_in_every_slot_and_bin_does_not_pass() -> None:
    """t = 2: lab 1 copies its only real share into every slot of every bin; nobody else holds the item."""
    params, labs = _labs([[b"lone"], [b"x"], [b"y"]], t=2)
    _finished(labs)
    uploads = {i: lab.shares() for i, lab in labs.items()}
    real = next(iter((labs[1]._slots or {}).keys()))
    bins, m = params.bins
    share = uploads[1][real // m][real % m]
    uploads[1] = [[share] * m for _ in range(bins)]
    passed = coordinate(params, uploads)
    assert passed == {1: set(), 2: set(), 3: set()}


def test_two_colluders_at_t3_do_not_reach_the_threshold_without_a_third_holder() -> None:
    """t = 3: labs 1 and 2 hold x and upload every share of x (also in spare slots); lab 3 does not hold
    it. No set passes."""
    params, labs = _labs([[b"x"], [b"x"], [b"y"]], t=3)
    _finished(labs)
    uploads = {i: lab.shares() for i, lab in labs.items()}
    bins, m = params.bins
    for i in (1, 2):
        real = next(iter((labs[i]._slots or {}).keys()))
        uploads[i] = [[uploads[i][real // m][real % m]] * m for _ in range(bins)]
    assert coordinate(params, uploads) == {1: set(), 2: set(), 3: set()}
    assert run_in_memory([{b"x"}, {b"x"}, {b"y"}], 3, n_items=4) == [[], [], []]


def test_bins_and_slots_meet_the_overflow_bound_exactly() -> None:
    """The binomial tail computed in floats against exact fractions: a bin gets more than m of N items with
    probability at most 2^-40 / (n B), and m - 1 slots would not do."""
    for size, n, t in [(s, k, t) for s in (5, 8, 16, 40, 100, 600) for k in (2, 3, 5) for t in (2, 3, k)]:
        if t <= n:
            bins, m = bins_and_slots(size, n, t)
            if bins == 1:
                assert m == size
                continue
            q = Fraction(1, bins)

            def tail(k: int, q: Fraction = q, size: int = size) -> Fraction:
                return sum(
                    (comb(size, j) * q**j * (1 - q) ** (size - j) for j in range(k + 1, size + 1)),
                    Fraction(0),
                )

            target = Fraction(1, 2**40 * n * bins)
            assert tail(m) <= target
            assert m == 1 or tail(m - 1) > target
