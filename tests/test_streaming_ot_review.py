"""Review of the OT engine streaming in buckets (``docs/streaming.md``, "The OT engine in buckets"): a
hostile peer that holds the session key, local misuse, the documented bounds. Helpers live in
``tests/streaming_ot_attacks.py``."""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import blindmatch.otpsi._party as otparty
import blindmatch.streaming._otstream as otstream
from blindmatch.errors import CapacityError, InvalidParameter, LocalError, LocalProtocolError, RemoteError
from blindmatch.hazmat import InvalidGroupElement
from blindmatch.otpsi import OtInitiator, OtResponder
from blindmatch.psi._cuckoo import EXACT_BOUND_LIMIT, CuckooFailure, cuckoo_bins, failure_bound_log2
from blindmatch.psi._errors import MalformedMessage, ModeNotAllowed, PeerTooLarge, UnexpectedMessage
from blindmatch.session.padding import DUMMY_PREFIX
from blindmatch.streaming import (
    OT_STREAM_ID,
    BadSignature,
    ChunkAuthError,
    MalformedChunk,
    TruncatedStream,
    UnexpectedChunk,
)
from blindmatch.streaming._buckets import BucketStage
from blindmatch.streaming._frames import DIR_I2R, DIR_R2I
from blindmatch.streaming._spill import SpillDir

sys.path.insert(0, os.path.dirname(__file__))
import streaming_ot_attacks as at

I2R, R2I = "initiator", "responder"
#: OT message type -> (sender, receiver)
SENDER = {1: I2R, 2: R2I, 3: I2R, 4: R2I, 5: I2R}


def _check_failed(outcome: at.Outcome, error: type[BaseException], ini: Any, res: Any) -> Any:
    """The exchange ended in ``error`` (a remote error) at one party, whose spill folder is already gone."""
    assert not outcome.stalled, "the exchange stalled"
    assert outcome.error is not None, "the attack was not detected"
    assert isinstance(outcome.error, error), repr(outcome.error)
    assert isinstance(outcome.error, RemoteError), repr(outcome.error)
    party = ini if outcome.where == I2R else res
    assert party.failed and not party.done
    assert not os.path.exists(party.spill_path)
    with pytest.raises(LocalProtocolError):
        party.result  # noqa: B018 - no result after a failure
    with pytest.raises(LocalProtocolError):
        party.next_chunk()
    return party


def _attack(tmp: Path, tamper: at.Tamper, error: type[BaseException], **kw: Any) -> at.Outcome:
    ini, res = at.parties(tmp, **kw)
    with ini, res:
        outcome = at.relay(ini, res, tamper)
        _check_failed(outcome, error, ini, res)
    assert at.spill_left(tmp) == []
    return outcome


def _once(role: str, mtype: int, index: int, make: Callable[[bytes], list[bytes]]) -> at.Tamper:
    """Replace the first chunk of (sender ``role``, type ``mtype``, index ``index``) by ``make(chunk)``."""
    state = {"done": False}

    def tamper(who: str, chunk: bytes) -> list[bytes]:
        if (
            not state["done"]
            and who == role
            and chunk[6] == mtype
            and chunk[25:29] == index.to_bytes(4, "big")
        ):
            state["done"] = True
            return make(chunk)
        return [chunk]

    return tamper


def _constant(chunk: bytes) -> Callable[[bytes], list[bytes]]:
    return lambda c: [chunk]


def _retype(ot_type: int) -> Callable[[bytes], bytes]:
    return lambda m: m[:5] + bytes([ot_type]) + m[6:]


# --- the honest run the attacks start from ---


def test_honest_baseline(tmp_path: Path) -> None:
    ini, res = at.parties(tmp_path)
    outcome = at.relay(ini, res)
    assert outcome.done
    shared = set(at.A) & set(at.B)
    assert ini.result.matched_indices is not None and res.result.matched_indices is not None
    assert [at.A[i] for i in ini.result.matched_indices] == [x for x in at.A if x in shared]
    assert [at.B[i] for i in res.result.matched_indices] == [x for x in at.B if x in shared]
    buckets, *_ = at.geometry(ini.result.own_size, ini.result.peer_size, 64)
    assert buckets == 2  # the attacks below need several buckets
    # every chunk fits the receiver's max_chunk_bytes at the time it arrives
    assert all(n <= bound for *_, n, bound in outcome.chunks)
    assert at.spill_left(tmp_path) == []


# --- hostile hellos ---


@pytest.mark.parametrize(
    ("n", "items", "size", "error"),
    [
        (1001, 64, 12, PeerTooLarge),  # just over max_peer_items
        ((1 << 64) - 1, 64, 12, PeerTooLarge),
        (100, 32, 12, UnexpectedChunk),  # bucket_items mismatch
        (100, 0, 12, UnexpectedChunk),
        (100, 64, 11, MalformedChunk),
        (100, 64, 13, MalformedChunk),
    ],
)
@pytest.mark.parametrize("victim", [I2R, R2I])
def test_hostile_hello(tmp_path: Path, victim: str, n: int, items: int, size: int, error: type) -> None:
    sender = R2I if victim == I2R else I2R
    direction = DIR_R2I if sender == R2I else DIR_I2R
    bad = at.hello(direction, n, items, size=size)
    _attack(tmp_path, _once(sender, 10, 0, lambda c: [bad]), error, max_peer_items=1000)


def test_hello_at_exactly_the_cap_is_accepted(tmp_path: Path) -> None:
    ini, res = at.parties(tmp_path, max_peer_items=len(set(at.A)))
    assert at.relay(ini, res).done


def test_a_hello_of_the_wrong_shape_or_twice(tmp_path: Path) -> None:
    _attack(tmp_path, _once(I2R, 10, 0, lambda c: [at.reseal(c, index=1)]), MalformedChunk)
    _attack(tmp_path, _once(I2R, 10, 0, lambda c: [at.reseal(c, final=False)]), MalformedChunk)
    _attack(tmp_path, _once(I2R, 10, 0, lambda c: [at.reseal(c, total=1)]), MalformedChunk)
    _attack(tmp_path, _once(I2R, 10, 0, lambda c: [c, c]), UnexpectedChunk)
    _attack(tmp_path, _once(R2I, 10, 0, lambda c: [c, c]), UnexpectedChunk)


def test_a_hello_that_hides_the_real_size(tmp_path: Path) -> None:
    """The peer announces 0 (or 1) items but sends its real buckets: the geometry differs between the sides,
    which must end in a remote error, never a wrong result."""
    for sender, direction in ((I2R, DIR_I2R), (R2I, DIR_R2I)):
        for n in (0, 1, 5000):
            bad = at.hello(direction, n)
            ini, res = at.parties(tmp_path)
            with ini, res:
                outcome = at.relay(ini, res, _once(sender, 10, 0, _constant(bad)))
                _check_failed(outcome, RemoteError, ini, res)
            assert at.spill_left(tmp_path) == []


def test_a_huge_hello_within_the_cap_is_no_crash(tmp_path: Path) -> None:
    """2^32 - 1 items at the largest bucket size: caps stay within the OT engine's limits; the party only
    answers with bucket 0's first message and bounds the next chunk."""
    ini, res = at.parties(tmp_path, max_peer_items=(1 << 32) - 1, bucket_items=1 << 22)
    with ini, res:
        drain = at.drain(ini)
        assert len(drain) == 1
        ini.receive_chunk(at.hello(DIR_R2I, (1 << 32) - 1, 1 << 22))
        first = at.drain(ini)
        assert len(first) == 1 and first[0][6] == 11
        buckets, _, cap_r, _ = at.geometry(len(set(at.A)), (1 << 32) - 1, 1 << 22)
        assert buckets == 1024 and cap_r < 1 << 23
        assert ini.max_chunk_bytes < 200 << 20


# --- framing of the OT chunks ---


@pytest.mark.parametrize("mtype", [11, 12, 13, 14, 15])
def test_reframed_ot_chunks(tmp_path: Path, mtype: int) -> None:
    sender = SENDER[mtype - 10]
    variants: list[tuple[Callable[[bytes], list[bytes]], type]] = [
        (lambda c: [at.reseal(c, final=True)], UnexpectedChunk),  # final flag on bucket 0 of 2
        (lambda c: [at.reseal(c, total=5)], UnexpectedChunk),
        (lambda c: [at.reseal(c, total=0)], UnexpectedChunk),
        (lambda c: [at.reseal(c, count=1)], MalformedChunk),
        (lambda c: [at.reseal(c, index=1)], UnexpectedChunk),
        (lambda c: [at.reseal(c, body=at.open_chunk(c).body + b"\0")], MalformedChunk),
        (lambda c: [at.reseal(c, mtype=5, body=bytes(64))], UnexpectedChunk),  # a signature early
        (lambda c: [at.reseal(c, mtype=10, body=bytes(12))], UnexpectedChunk),  # a hello again
        (lambda c: [c, c], UnexpectedChunk),  # repeated
    ]
    for make, error in variants:
        _attack(tmp_path, _once(sender, mtype, 0, make), error)


def test_the_last_bucket_without_its_final_flag(tmp_path: Path) -> None:
    _attack(tmp_path, _once(I2R, 11, 1, lambda c: [at.reseal(c, final=False)]), UnexpectedChunk)
    _attack(tmp_path, _once(R2I, 14, 1, lambda c: [at.reseal(c, final=False)]), UnexpectedChunk)


def test_swapped_or_dropped_buckets(tmp_path: Path) -> None:
    """In ``mutual`` the initiator sends bucket b's confirm and bucket b+1's start together."""
    held: list[bytes] = []

    def swap(who: str, chunk: bytes) -> list[bytes]:
        if who == I2R and chunk[6] == 15 and chunk[25:29] == bytes(4):
            held.append(chunk)
            return []
        if held and who == I2R and chunk[6] == 11:
            return [chunk, held.pop()]
        return [chunk]

    _attack(tmp_path, swap, UnexpectedChunk)
    _attack(tmp_path, _once(I2R, 15, 1, lambda c: []), UnexpectedChunk)  # confirm of bucket 1 dropped


def _captured(tmp: Path, session_id: bytes = at.SID) -> dict[tuple[int, int], bytes]:
    """(type, bucket) -> plaintext body of every OT chunk of an honest mutual run."""
    ini, res = at.parties(tmp, session_id=session_id)
    bodies: dict[tuple[int, int], bytes] = {}

    def keep(who: str, chunk: bytes) -> list[bytes]:
        f = at.open_chunk(chunk, session_id=session_id)
        bodies[(f.mtype, f.index)] = f.body
        return [chunk]

    assert at.relay(ini, res, keep).done
    return bodies


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[Any, bytes], dict[Any, bytes]]:
    tmp = tmp_path_factory.mktemp("capture")
    return _captured(tmp), _captured(tmp, at.SID2)


@pytest.mark.parametrize("mtype", [11, 12, 13, 14, 15])
def test_ot_messages_replayed_from_another_bucket_or_session(
    tmp_path: Path, mtype: int, captured: tuple[dict[Any, bytes], dict[Any, bytes]]
) -> None:
    """Resealed for the right bucket, the OT message still names its own bucket or session: the OT engine's
    session-id check refuses it."""
    here, other = captured
    sender = SENDER[mtype - 10]
    _attack(tmp_path, _once(sender, mtype, 1, lambda c: [at.reseal(c, body=here[(mtype, 0)])]), RemoteError)
    _attack(tmp_path, _once(sender, mtype, 0, lambda c: [at.reseal(c, body=other[(mtype, 0)])]), RemoteError)
    # the chunk itself, from the other session: the header names the other session
    foreign = at.codec(DIR_I2R if sender == I2R else DIR_R2I, session_id=at.SID2)
    raw = foreign.wire(foreign.seal(mtype, 0, False, 0, 2, other[(mtype, 0)]))
    _attack(tmp_path, _once(sender, mtype, 0, lambda c: [raw]), UnexpectedChunk)


# --- authentic chunks whose OT message is hostile (valid OT header, chosen body) ---


def _ot_body(ot_type: int, choose: Callable[[bytes, bytes], bytes]) -> Callable[[bytes], list[bytes]]:
    """Keep the OT header of the honest message, replace its body by ``choose(header, body)``."""

    def make(chunk: bytes) -> list[bytes]:
        message = at.open_chunk(chunk).body
        return [at.reseal(chunk, body=message[:24] + choose(message[:24], message[24:]))]

    return make


def _same_len(fill: Callable[[int], bytes]) -> Callable[[bytes, bytes], bytes]:
    return lambda head, body: fill(len(body))


HOSTILE_BODIES: list[tuple[int, str, Callable[[bytes, bytes], bytes], type]] = [
    (1, "zero point", lambda h, b: b[:8] + bytes(32) + b[40:], InvalidGroupElement),
    (1, "non-canonical point", lambda h, b: b[:8] + b"\xff" * 32 + b[40:], InvalidGroupElement),
    (1, "wrong sizes", lambda h, b: (1).to_bytes(4, "big") + b[4:], MalformedMessage),
    (1, "random", _same_len(os.urandom), RemoteError),
    (2, "zero points", _same_len(bytes), InvalidGroupElement),
    (2, "random", _same_len(os.urandom), RemoteError),
    (3, "share does not open", lambda h, b: b[:-16] + bytes(16), MalformedMessage),
    (3, "random", _same_len(os.urandom), MalformedMessage),
    (4, "repeated values", _same_len(bytes), MalformedMessage),
    (5, "all marked with padding", _same_len(lambda n: b"\xff" * n), MalformedMessage),
]


@pytest.mark.parametrize(
    ("ot_type", "what", "choose", "error"), HOSTILE_BODIES, ids=[x[1] for x in HOSTILE_BODIES]
)
def test_hostile_ot_message_bodies(tmp_path: Path, ot_type: int, what: str, choose: Any, error: type) -> None:
    for bucket in (0, 1):
        _attack(tmp_path, _once(SENDER[ot_type], 10 + ot_type, bucket, _ot_body(ot_type, choose)), error)


def test_hostile_ot_headers(tmp_path: Path) -> None:
    def header(change: Callable[[bytes], bytes]) -> Callable[[bytes], list[bytes]]:
        return lambda c: [at.reseal(c, body=change(at.open_chunk(c).body))]

    for ot_type in (1, 2, 3, 4, 5):
        mtype, sender = 10 + ot_type, SENDER[ot_type]
        _attack(tmp_path, _once(sender, mtype, 0, header(lambda m: b"XXXX" + m[4:])), MalformedMessage)
        other = 1 + ot_type % 5
        retyped = header(_retype(other))
        _attack(tmp_path, _once(sender, mtype, 0, retyped), UnexpectedMessage)
        _attack(tmp_path, _once(sender, mtype, 0, header(lambda m: m[:6] + b"\x01" + m[7:])), ModeNotAllowed)
        _attack(
            tmp_path, _once(sender, mtype, 0, header(lambda m: m[:7] + b"\x01" + m[8:])), MalformedMessage
        )


def test_a_confirm_marking_more_than_the_initiator_has_in_one_bucket(tmp_path: Path) -> None:
    """A small initiator (cap 5 per bucket) facing a large responder marks cap + 1 positions in bucket 0."""
    small = [b"s1", b"s2", b"q1", b"q2", b"q3"]
    _, cap_i, cap_r, _ = at.geometry(5, len(set(at.B)), 64)
    assert cap_i == 5 < cap_r

    def six(head: bytes, body: bytes) -> bytes:
        bits = np.zeros(len(body) * 8, np.uint8)
        bits[: cap_i + 1] = 1
        return np.packbits(bits, bitorder="little").tobytes()

    _attack(tmp_path, _once(I2R, 15, 0, _ot_body(5, six)), MalformedMessage, a=small)


def test_a_confirm_marking_more_than_the_initiator_has_in_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = [b"s1", b"s2", b"q1", b"q2", b"q3"]
    at.install_overmarking(monkeypatch)  # the initiator signs the confirms it lies in
    ini, res = at.parties(tmp_path, a=small, bucket_items=16)  # 8 buckets
    with ini, res:
        outcome = at.relay(ini, res)
        if outcome.done:
            # an honest initiator of padded size n_I never confirms more than n_I of the responder's items
            assert res.result.count is not None
            assert res.result.count <= res.result.peer_size, (res.result.count, res.result.peer_size)
        else:
            _check_failed(outcome, RemoteError, ini, res)


# --- signatures: no result without the peer's valid signature ---


def test_no_result_without_a_valid_peer_signature(tmp_path: Path) -> None:
    for sender in (I2R, R2I):
        bad = _once(sender, 5, 0, lambda c: [at.reseal(c, body=bytes(64))])
        _attack(tmp_path, bad, BadSignature)
    # the initiator's own signature reflected back to it as the responder's
    ini, res = at.parties(tmp_path)
    sigs: list[bytes] = []

    def reflect(who: str, chunk: bytes) -> list[bytes]:
        if chunk[6] == 5 and who == I2R:
            sigs.append(at.open_chunk(chunk).body)
        if chunk[6] == 5 and who == R2I:
            return [at.reseal(chunk, body=sigs[0])]
        return [chunk]

    with ini, res:
        outcome = at.relay(ini, res, reflect)
        _check_failed(outcome, BadSignature, ini, res)
        assert outcome.where == I2R and res.done  # the responder verified a real signature


def test_a_transcript_change_the_signer_did_not_see_is_refused(tmp_path: Path) -> None:
    """Bucket 0's base OTs resealed with one chunk header field the OT engine ignores: impossible (every
    field is checked), so change the matrix of bucket 2 instead; it still opens its commitment (same share),
    the responder computes values, and only the signatures catch the difference."""

    def flip(head: bytes, body: bytes) -> bytes:
        return bytes([body[0] ^ 1]) + body[1:]

    ini, res = at.parties(tmp_path)
    with ini, res:
        outcome = at.relay(ini, res, _once(I2R, 13, 1, _ot_body(3, flip)))
        _check_failed(outcome, BadSignature, ini, res)


# --- spill files ---


def test_spill_and_truncation(tmp_path: Path) -> None:
    ini, res = at.parties(tmp_path)
    outcome = at.relay(ini, res, _once(R2I, 14, 1, _ot_body(4, _same_len(bytes))))
    other = res if outcome.where == I2R else ini
    assert isinstance(outcome.error, MalformedMessage) and outcome.where == I2R
    assert os.path.exists(other.spill_path)
    with pytest.raises(TruncatedStream):
        other.end_of_stream()
    assert other.failed and not os.path.exists(other.spill_path)
    assert at.spill_left(tmp_path) == []


# --- what the chunk lengths show ---


def test_chunk_lengths_do_not_show_bucket_occupancy(tmp_path: Path) -> None:
    """Two initiator sets of one padded size, one spread and one crowded into bucket 0 (below its cap): the
    same chunk lengths, types and indices both ways."""
    n = len(set(at.A))
    buckets, cap_i, _, _ = at.geometry(n, len(set(at.B)), 64)
    crowded = [*at.items_in_bucket(0, buckets, cap_i - 2), b"s1", b"s2"]
    assert at.bucket_of(crowded, buckets).count(0) >= cap_i - 2
    runs = []
    for a in (at.A, crowded):
        ini, res = at.parties(tmp_path, a=a, padded_size=n)
        outcome = at.relay(ini, res)
        assert outcome.done
        runs.append(at.chunk_lengths(outcome))
    assert runs[0] == runs[1]


# --- dummies ---


def test_dummies_are_distinct_across_buckets_and_sides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, list[list[bytes]]] = {"i": [], "r": []}

    class SpyI(OtInitiator):
        def __init__(self, items: Any, *args: Any, **kw: Any) -> None:
            seen["i"].append(list(items))
            super().__init__(seen["i"][-1], *args, **kw)

    class SpyR(OtResponder):
        def __init__(self, items: Any, *args: Any, **kw: Any) -> None:
            seen["r"].append(list(items))
            super().__init__(seen["r"][-1], *args, **kw)

    monkeypatch.setattr(otstream, "OtInitiator", SpyI)
    monkeypatch.setattr(otstream, "OtResponder", SpyR)
    ini, res = at.parties(tmp_path)
    assert at.relay(ini, res).done
    buckets, cap_i, cap_r, _ = at.geometry(ini.result.own_size, ini.result.peer_size, 64)
    assert [len(x) for x in seen["i"]] == [cap_i] * buckets
    assert [len(x) for x in seen["r"]] == [cap_r] * buckets
    dummies = [x for side in seen.values() for b in side for x in b if x.startswith(DUMMY_PREFIX)]
    reals = {x for side in seen.values() for b in side for x in b if not x.startswith(DUMMY_PREFIX)}
    assert len(dummies) == len(set(dummies)) == buckets * (cap_i + cap_r) - len(set(at.A)) - len(set(at.B))
    assert reals == set(at.A) | set(at.B)
    # every real item sits in its own bucket on both sides
    for side, _items in (("i", at.A), ("r", at.B)):
        for b, bucket in enumerate(seen[side]):
            real = [x for x in bucket if not x.startswith(DUMMY_PREFIX)]
            assert set(at.bucket_of(real, buckets)) <= {b}


def test_items_that_look_like_dummies_are_refused_locally(tmp_path: Path) -> None:
    for bad in ([DUMMY_PREFIX + bytes(32)], ["text"], [b"ok", 5]):
        ini, res = at.parties(tmp_path, a=bad)  # type: ignore[arg-type]
        with ini, res, pytest.raises(InvalidParameter):
            ini.prepare()
        assert ini.failed and not os.path.exists(ini.spill_path)
    assert at.spill_left(tmp_path) == []


# --- local misuse ---


def test_local_misuse_raises_local_errors(tmp_path: Path) -> None:
    ini, res = at.parties(tmp_path)
    with pytest.raises(LocalProtocolError):
        ini.result  # noqa: B018
    assert res.next_chunk() is None  # a responder waits for the hello
    ini.close()
    for call in (ini.prepare, ini.next_chunk, lambda: ini.receive_chunk(b"x" * 60), ini.end_of_stream):
        try:
            call()
        except LocalError:
            pass
        else:  # end_of_stream on a closed party may be a no-op, the others must raise
            assert call == ini.end_of_stream
    res.close()
    with pytest.raises(LocalProtocolError):
        res.receive_chunk(at.hello(DIR_I2R, 10))
    # padded size below the distinct count
    ini, res = at.parties(tmp_path, padded_size=10)
    with ini, res, pytest.raises(CapacityError):
        ini.next_chunk()
    assert at.spill_left(tmp_path) == []


def test_receiving_before_draining_is_a_local_error(tmp_path: Path) -> None:
    ini, res = at.parties(tmp_path)
    with ini, res:
        hello = ini.next_chunk()  # the caller takes the hello but does not call next_chunk() until None
        assert hello is not None
        res.receive_chunk(hello)
        reply = at.drain(res)
        with pytest.raises(LocalError):
            ini.receive_chunk(reply[0])


def test_a_stray_chunk_after_the_end(tmp_path: Path) -> None:
    """A peer chunk after a finished exchange is refused as a remote error; the result stays usable."""
    ini, res = at.parties(tmp_path)
    last: list[bytes] = []

    def keep(who: str, chunk: bytes) -> list[bytes]:
        last.append(chunk)
        return [chunk]

    assert at.relay(ini, res, keep).done
    matched = ini.result.matched_indices
    assert matched is not None
    with pytest.raises(UnexpectedChunk):
        ini.receive_chunk(last[-1])
    assert ini.result.matched_indices is matched and ini.done
    assert at.spill_left(tmp_path) == []


# --- the documented bounds ---


@pytest.mark.parametrize(
    ("n", "buckets"), [(100, 64), (1000, 1024), (5000, 4), (1 << 16, 1 << 16), (1 << 20, 16), (300, 2)]
)
def test_bucket_caps_against_the_exact_tail(n: int, buckets: int) -> None:
    cap = at.bucket_cap(n, buckets)
    assert buckets * at.binomial_tail(n, 1 / buckets, cap) <= 2.0**-40
    # the Chernoff bound itself, at the cap's delta
    mu = n / buckets
    if cap < n:
        d = cap / mu - 1
        assert buckets * np.exp(-d * d * mu / (2 + d)) <= 2.0**-40 * (1 + 1e-9)


def test_the_three_percent_claim() -> None:
    cap = at.bucket_cap(1 << 23, 128)
    assert at.bucket_count(1 << 23, 1 << 16) == 128
    assert 0.025 < cap / (1 << 16) - 1 < 0.035


@pytest.mark.parametrize(
    ("n_i", "n_r", "items"),
    [(10, 10, 1), (1000, 50, 16), (5000, 5000, 64), (1 << 23, 1 << 23, 1 << 16), (1 << 24, 3, 1)],
)
def test_false_matches_over_all_buckets_stay_below_2_to_the_minus_40(n_i: int, n_r: int, items: int) -> None:
    buckets, _, _, stat_bits = at.geometry(n_i, n_r, items)
    assert stat_bits == at.STAT_BITS + (buckets.bit_length() - 1)
    assert at.false_match_bound(n_i, n_r, items) <= 2.0**-40


@pytest.mark.parametrize(("n_i", "n_r", "items"), [(102, 81, 64), (1000, 1000, 64)])
def test_cuckoo_failure_over_all_buckets_stays_below_2_to_the_minus_40(
    n_i: int, n_r: int, items: int
) -> None:
    buckets, cap_i, _, _ = at.geometry(n_i, n_r, items)
    assert buckets > 1 and cap_i <= EXACT_BOUND_LIMIT  # where cuckoo_bins uses its proven bound
    bins = otstream._Geometry(n_i, n_r, items).sizes.bins  # the engine's tables: 40 + log2 B bits each
    assert bins > cuckoo_bins(cap_i)
    assert failure_bound_log2(cap_i, bins) + math.log2(buckets) <= -40


# --- the buckets on disk, without the OT (every path of BucketStage.bucket) ---


@pytest.mark.parametrize("buckets", [1, 2, 256, 512, 1 << 16])
def test_bucket_stage_splits_exactly_by_the_keyed_hash(tmp_path: Path, buckets: int) -> None:
    items = [b"i%d" % (i % 2500) for i in range(3000)]  # 500 repeats
    spill = SpillDir(tmp_path)
    try:
        key = hashlib.sha256(OT_STREAM_ID + b"/bucket-key" + at.SID).digest()
        stage = BucketStage(spill, key, 97)
        stage.add(iter(items))
        assert stage.distinct == 2500 and stage.n_input == 3000
        where = at.bucket_of(items, buckets)
        sizes = stage.bucket_sizes(buckets)
        assert int(sizes.sum()) == 2500
        seen: set[bytes] = set()
        probe = range(buckets) if buckets <= 512 else [0, 1, 4095, buckets - 1, *sorted(set(where))[:20]]
        for b in probe:
            bucket = stage.bucket(b, buckets)
            expect = list(dict.fromkeys(x for x, w in zip(items, where, strict=True) if w == b))
            assert sorted(bucket.items) == sorted(expect)
            assert len(bucket.items) == int(sizes[b])
            got = sorted(bucket.indices(range(len(bucket.items))))
            assert got == [i for i, w in enumerate(where) if w == b]  # every repeat, input indices
            for j, x in enumerate(bucket.items):
                assert items[int(bucket.first[j])] == x and items.index(x) == int(bucket.first[j])
            seen.update(bucket.items)
        if buckets <= 512:
            assert seen == set(items)
    finally:
        spill.cleanup()


# --- modes and keys that differ between the sides ---


def test_mismatched_modes_and_keys_are_remote_errors(tmp_path: Path) -> None:
    for change, error in (
        ({"mode": "intersection"}, UnexpectedChunk),
        ({"session_key": bytes(32)}, ChunkAuthError),
    ):
        ini, spare_r = at.parties(tmp_path)
        spare_i, res = at.parties(tmp_path, **change)
        spare_i.close()
        spare_r.close()
        with ini, res:
            outcome = at.relay(ini, res)
            _check_failed(outcome, error, ini, res)
    assert at.spill_left(tmp_path) == []


def test_a_confirm_in_intersection_mode(tmp_path: Path) -> None:
    """In ``intersection`` no confirm comes: one forged after bucket 0's values is refused."""

    def forged(who: str, chunk: bytes) -> list[bytes]:
        if who == I2R and chunk[6] == 11 and chunk[25:29] == (1).to_bytes(4, "big"):
            c = at.codec(DIR_I2R, "intersection")
            return [c.wire(c.seal(15, 0, False, 0, 2, bytes(40))), chunk]
        return [chunk]

    ini, res = at.parties(tmp_path, mode="intersection")
    with ini, res:
        assert at.relay(ini, res).done
        assert res.result.matched_indices is None and res.result.count is None
    _attack(tmp_path, forged, UnexpectedChunk, mode="intersection")


# --- local failures clean up too ---


def test_local_failures_in_the_middle_remove_the_spill_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket over its cap (forced) and a cuckoo failure (forced) are local errors; the failed party's
    folder goes at once, the peer's when the transport closes."""
    with monkeypatch.context() as m:
        m.setattr(otstream, "bucket_cap", lambda n, b: 1)
        ini, res = at.parties(tmp_path)
        outcome = at.relay(ini, res)
        assert isinstance(outcome.error, CapacityError) and outcome.where == R2I
        assert res.failed and not os.path.exists(res.spill_path)
        with pytest.raises(TruncatedStream):
            ini.end_of_stream()
    assert at.spill_left(tmp_path) == []

    def fail(*args: Any, **kw: Any) -> Any:
        raise CuckooFailure("forced")

    with monkeypatch.context() as m:
        m.setattr(otparty, "cuckoo_insert", fail)
        ini, res = at.parties(tmp_path)
        outcome = at.relay(ini, res)
        assert isinstance(outcome.error, CuckooFailure) and isinstance(outcome.error, LocalError)
        assert outcome.where == I2R and ini.failed and not os.path.exists(ini.spill_path)
        with pytest.raises(TruncatedStream):
            res.end_of_stream()
    assert at.spill_left(tmp_path) == []


def test_a_bad_executor_leaves_no_spill_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter):
        at.parties(tmp_path, executor="not an executor")
    assert at.spill_left(tmp_path) == []
