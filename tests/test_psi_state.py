"""Seeded PSI parties and saved states: derivations, restore for every step, single use, tampering."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psi_util import items

from blindmatch._derive import derive_bytes
from blindmatch.errors import InvalidParameter, LocalError, LocalProtocolError
from blindmatch.psi import (
    MODES,
    Initiator,
    Mode,
    Responder,
    StateAlreadyUsed,
    StateError,
    mode_spec,
)
from blindmatch.psi._wire import parse_confirm, parse_request, parse_response

SI = hashlib.sha256(b"state-i").digest()
SR = hashlib.sha256(b"state-r").digest()
A = items([1, 2, 3, 5, 8, 13])
B = items([2, 3, 4, 8, 21])

Stages = list[str]


def _recorder() -> tuple[Stages, Callable[[str, int, int], None]]:
    seen: Stages = []
    return seen, lambda stage, done, total: seen.append(stage)


def _live(mode: Mode, a: list[bytes] = A, b: list[bytes] = B) -> tuple[Initiator, Responder, list[bytes]]:
    init, resp = Initiator(a, mode, seed=SI), Responder(b, seed=SR)
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    msgs = [m1, m2]
    if m3 is not None:
        resp.finish(m3)
        msgs.append(m3)
    return init, resp, msgs


def _stepwise(mode: Mode, a: list[bytes], b: list[bytes]) -> tuple[Initiator, Responder, list[bytes]]:
    """The same session with every party saved after each step and restored for the next one."""
    s_i = Initiator(a, mode, seed=SI).save_state()
    s_r = Responder(b, seed=SR).save_state()
    init = Initiator.restore_state(s_i, a, mode)
    m1 = init.start()
    s_i = init.save_state()
    resp = Responder.restore_state(s_r, b)
    m2 = resp.respond(m1)
    s_r = resp.save_state()
    init = Initiator.restore_state(s_i, a, mode)
    m3 = init.finish(m2)
    s_i = init.save_state()
    msgs = [m1, m2]
    resp = Responder.restore_state(s_r, b)
    if m3 is not None:
        resp.finish(m3)
        msgs.append(m3)
        resp = Responder.restore_state(resp.save_state(), b)
    return Initiator.restore_state(s_i, a, mode), resp, msgs


# --- one seed, every choice derived ---


def test_seed_determines_every_byte_and_rng_is_drawn_once() -> None:
    calls: list[int] = []

    def rng(n: int) -> bytes:
        calls.append(n)
        return SI[:n]

    assert Initiator(A, "mutual", rng=rng).start() == Initiator(A, "mutual", seed=SI).start()
    assert calls == [32]
    m1 = Initiator(A, "mutual", seed=SI).start()
    assert Initiator(list(reversed(A)) + A, "mutual", seed=SI).start() == m1  # a set: order, repeats
    sid = derive_bytes(SI, b"blindmatch/psi/v1/initiator/session-id", 16)
    assert parse_request(m1, 100).session_id == sid
    assert Initiator(A, "mutual", seed=SR).start() != m1


@pytest.mark.parametrize(
    "kwargs", [{"seed": b"short"}, {"seed": "x" * 32}, {"seed": SI, "rng": lambda n: bytes(n)}]
)
def test_bad_seed(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidParameter):
        Initiator(A, **kwargs)
    with pytest.raises(InvalidParameter):
        Responder(B, **kwargs)


def test_seed_and_items_never_in_repr_or_state() -> None:
    secret = [b"secret-indicator-%d" % i for i in range(5)]
    init, resp, _ = _live("mutual", secret, secret[2:])
    for party in (init, resp, Initiator(secret, seed=SI)):
        assert SI.hex() not in repr(party) and SR.hex() not in repr(party) and "secret" not in repr(party)
    blobs = [init.save_state(), resp.save_state(), Initiator(secret, seed=SI).save_state()]
    blobs.append(Responder(secret, seed=SR).save_state())
    for blob in blobs:
        assert not [x for x in secret if x in blob] and b"secret" not in blob


@pytest.mark.parametrize("mode", ["cardinality", "mutual-cardinality"])
def test_count_only_lists_are_sorted_by_hash(mode: Mode) -> None:
    _, _, msgs = _live(mode)
    resp = parse_response(msgs[1], 100, len(set(A)))
    assert resp.hashes == sorted(resp.hashes)
    if len(msgs) == 3:
        conf = parse_confirm(msgs[2], len(set(B)))
        assert conf.hashes == sorted(conf.hashes)


# --- restore at every step ---


@pytest.mark.parametrize("mode", MODES)
def test_stepwise_equals_live(mode: Mode) -> None:
    i1, r1, live = _live(mode)
    i2, r2, saved = _stepwise(mode, A, B)
    assert live == saved
    assert (i1.result, r1.result) == (i2.result, r2.result)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xa=st.lists(st.integers(0, 30), max_size=20), xb=st.lists(st.integers(0, 30), max_size=20)
)
def test_stepwise_matches_python_sets(mode: Mode, xa: list[int], xb: list[int]) -> None:
    a, b = items(xa), items(xb)
    init, resp, _ = _stepwise(mode, a, b)
    common = set(a) & set(b)
    assert init.result.count == len(common)
    assert init.result.transcript_hash == resp.result.transcript_hash
    spec = mode_spec(mode)
    want_i = [x for x in a if x in common] if spec.initiator_learns == "intersection" else None
    want_r = [y for y in b if y in common] if spec.responder_learns == "intersection" else None
    assert (init.result.matched, resp.result.matched) == (want_i, want_r)
    assert resp.result.count == (len(common) if spec.responder_learns != "nothing" else None)


@pytest.mark.parametrize("mode", ["mutual", "mutual-cardinality"])
def test_restored_steps_do_only_their_own_crypto(mode: Mode) -> None:
    init = Initiator(A, mode, seed=SI)
    resp = Responder(B, seed=SR)
    m2 = resp.respond(init.start())
    seen_i, cb_i = _recorder()
    restored = Initiator.restore_state(init.save_state(), A, mode, progress=cb_i)
    m3 = restored.finish(m2)
    assert "blind own set" not in seen_i and "blind peer set" in seen_i
    seen_r, cb_r = _recorder()
    assert m3 is not None
    Responder.restore_state(resp.save_state(), B, progress=cb_r).finish(m3)
    assert seen_r == ["compare", "compare"]


# --- single use ---


@pytest.mark.parametrize("mode", MODES)
def test_a_used_state_replays_the_same_message_and_refuses_others(mode: Mode) -> None:
    init = Initiator(A, mode, seed=SI)
    resp = Responder(B, seed=SR)
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    other = m2[:-1] + bytes([m2[-1] ^ 1])
    done_i = init.save_state()
    seen, cb = _recorder()
    again = Initiator.restore_state(done_i, A, mode, progress=cb)
    assert again.done and again.result == init.result
    assert again.finish(m2) == m3 and seen == []  # no new crypto
    with pytest.raises(StateAlreadyUsed):
        Initiator.restore_state(done_i, A, mode).finish(other)
    saved_r = resp.save_state()
    assert Responder.restore_state(saved_r, B).respond(m1) == m2
    with pytest.raises(StateAlreadyUsed):
        Responder.restore_state(saved_r, B).respond(Initiator(A, mode, seed=SR).start())
    if m3 is not None:
        resp.finish(m3)
        done_r = resp.save_state()
        Responder.restore_state(done_r, B).finish(m3)
        with pytest.raises(StateAlreadyUsed):
            Responder.restore_state(done_r, B).finish(m3[:-1] + bytes([m3[-1] ^ 1]))
        with pytest.raises(LocalProtocolError):
            Responder.restore_state(done_r, B).respond(m1)  # only the last step replays


def test_out_of_order_calls_on_restored_parties() -> None:
    init = Initiator(A, "mutual", seed=SI)
    ready = init.save_state()
    with pytest.raises(LocalProtocolError):
        Initiator.restore_state(ready, A, "mutual").finish(b"x")
    init.start()
    with pytest.raises(LocalProtocolError):
        Initiator.restore_state(init.save_state(), A, "mutual").start()
    with pytest.raises(LocalProtocolError):
        Responder.restore_state(Responder(B, seed=SR).save_state(), B).finish(b"x")
    failed = Initiator(A, seed=SI)
    with pytest.raises(LocalProtocolError):
        failed.finish(b"")
    with pytest.raises(LocalProtocolError):
        failed.save_state()


# --- wrong inputs, wrong parameters, tampered blobs ---


def test_restore_with_other_items_or_parameters() -> None:
    init = Initiator(A, "mutual", seed=SI, max_peer_items=100)
    init.start()
    blob = init.save_state()
    Initiator.restore_state(blob, list(reversed(A)) + A[:2], "mutual", max_peer_items=100)  # same set
    for bad_items in (A[:-1], [*A, b"extra"], [x + b"!" for x in A], []):
        with pytest.raises(StateError, match="items"):
            Initiator.restore_state(blob, bad_items, "mutual", max_peer_items=100)
    with pytest.raises(StateError, match="parameters"):
        Initiator.restore_state(blob, A, "mutual-cardinality", max_peer_items=100)
    with pytest.raises(StateError, match="parameters"):
        Initiator.restore_state(blob, A, "mutual")
    with pytest.raises(StateError, match="initiator"):
        Responder.restore_state(blob, A, max_peer_items=100)
    r_blob = Responder(B, seed=SR, allowed_modes=("mutual",)).save_state()
    with pytest.raises(StateError, match="parameters"):
        Responder.restore_state(r_blob, B)
    Responder.restore_state(r_blob, B, allowed_modes=("mutual",))


def _small_states() -> list[bytes]:
    init, resp = Initiator(A[:2], "mutual", seed=SI), Responder(B[:2], seed=SR)
    out = [init.save_state(), resp.save_state()]
    m2 = resp.respond(init.start())
    out += [init.save_state(), resp.save_state()]
    m3 = init.finish(m2)
    assert m3 is not None
    resp.finish(m3)
    return [*out, init.save_state(), resp.save_state()]


def _restore_any(blob: bytes) -> None:
    try:
        Initiator.restore_state(blob, A[:2], "mutual")
    except StateError as exc:
        if "belongs to the responder" not in str(exc):
            raise
        Responder.restore_state(blob, B[:2])


@pytest.mark.parametrize("index", range(6))
def test_every_flipped_byte_is_a_state_error(index: int) -> None:
    blob = _small_states()[index]
    _restore_any(blob)  # the intact blob restores
    for i in range(len(blob)):
        for mask in (0x01, 0x80):
            bad = bytearray(blob)
            bad[i] ^= mask
            with pytest.raises(StateError):
                _restore_any(bytes(bad))
    for cut in range(len(blob)):
        with pytest.raises(StateError):
            _restore_any(blob[:cut])
    with pytest.raises(StateError):
        _restore_any(blob + b"\0")


def test_foreign_blobs_are_state_errors() -> None:
    for junk in (b"", b"BMPSTATE", b"\0" * 300, b"BMPS" + bytes(200), "text", None, 3):
        with pytest.raises(StateError):
            Initiator.restore_state(junk, A)  # type: ignore[arg-type]
    assert issubclass(StateError, LocalError) and not issubclass(StateError, LocalProtocolError)


@pytest.mark.parametrize("index", range(6))
def test_flipped_bytes_with_a_fixed_checksum_never_crash(index: int) -> None:
    """A blob altered by someone who also recomputes the checksum: only StateError, or a restore (the
    byte was e.g. in a stored digest or transcript hash, which the next step or the result then shows)."""
    blob = _small_states()[index]
    body = blob[:-32]
    errors = 0
    for i in range(len(body)):
        bad = bytearray(body)
        bad[i] ^= 0x01
        try:
            _restore_any(bytes(bad) + hashlib.sha256(bad).digest())
        except StateError:
            errors += 1
    assert errors > 100  # magic, version, role, state, mode, params, seed, items hash, lengths ...


def test_state_table_is_what_the_parties_do() -> None:
    """Every (state, call) pair of both roles: the pairs outside TRANSITIONS raise LocalProtocolError;
    run pairs move to the table's state; replay pairs answer the consumed message again."""
    from blindmatch.psi._state import REPLAY, TRANSITIONS

    init, resp = Initiator(A, "mutual", seed=SI), Responder(B, seed=SR)
    saved = {("initiator", "ready"): init.save_state(), ("responder", "ready"): resp.save_state()}
    m1 = init.start()
    m2 = resp.respond(m1)
    saved[("initiator", "await-response")] = init.save_state()
    saved[("responder", "await-confirm")] = resp.save_state()
    m3 = init.finish(m2)
    assert m3 is not None
    resp.finish(m3)
    saved[("initiator", "done")], saved[("responder", "done")] = init.save_state(), resp.save_state()
    calls = {"initiator": {"start": None, "finish": m2}, "responder": {"respond": m1, "finish": m3}}
    for (role, state_name), blob in saved.items():
        for call, arg in calls[role].items():
            party: Initiator | Responder
            if role == "initiator":
                party = Initiator.restore_state(blob, A, "mutual")
            else:
                party = Responder.restore_state(blob, B)
            assert party._state.value == state_name
            entry = TRANSITIONS.get((party._state, call))
            allowed = entry is not None and (entry[0] != REPLAY or party._last_call == call)
            method = getattr(party, call)
            if not allowed:
                with pytest.raises(LocalProtocolError):
                    method() if arg is None else method(arg)
                continue
            assert entry is not None
            method() if arg is None else method(arg)
            assert party._state is entry[1]


def test_an_old_copy_of_a_responder_state_answers_another_request_under_another_scalar() -> None:
    """Review finding: the responder's scalar is bound to the request, so restoring an old copy of a
    state and feeding it a different request is a fresh evaluation, never a second one under ``b``."""
    from blindmatch.psi._seeded import party_scalar

    a1, a2 = [b"x1", b"x2", b"x3"], [b"y1", b"y2", b"y3"]
    b_items = [b"x1", b"z1"]
    seed_r = hashlib.sha256(b"old-copy").digest()
    m1a = Initiator(a1, "intersection", seed=SI).start()
    m1b = Initiator(a2, "intersection", seed=SI).start()
    r1, r2 = Responder(b_items, seed=seed_r), Responder(b_items, seed=seed_r)
    m2a, m2b = r1.respond(m1a), r2.respond(m1b)
    assert party_scalar(seed_r, "responder", m1a) != party_scalar(seed_r, "responder", m1b)
    head = 9 + 38 + 16 + 8  # header, then n_a and n_b: the responder's own blinded list follows
    own_a, own_b = m2a[head : head + 64], m2b[head : head + 64]
    assert set(own_a[i : i + 32] for i in (0, 32)).isdisjoint(own_b[i : i + 32] for i in (0, 32))
    assert Responder(b_items, seed=seed_r).respond(m1a) == m2a  # the same request: the same answer


def test_saved_psi_state_repr_hides_the_seed() -> None:
    from blindmatch.psi._state import decode_state

    init = Initiator([b"a", b"b"], "mutual", seed=SI)
    init.start()
    st = decode_state(init.save_state())
    assert SI.hex() not in repr(st) and repr(SI) not in repr(st)
