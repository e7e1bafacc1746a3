"""The OT engine streaming in buckets (``blindmatch.streaming.OtStreamInitiator``, ``docs/streaming.md``,
"The OT engine in buckets"): results against sets and against the in-memory engines, identical outputs
whatever the chunk size, bucket caps against the exact binomial tail, private spill files, hostile chunks."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blindmatch.streaming._otstream as otstream
from blindmatch.errors import CapacityError, InvalidParameter, RemoteError
from blindmatch.otpsi import run_ot_in_memory
from blindmatch.psi._errors import PeerTooLarge
from blindmatch.session.identity import Identity
from blindmatch.streaming import (
    OT_STREAM_ID,
    ChunkAuthError,
    FrameCodec,
    MalformedChunk,
    OtStreamInitiator,
    OtStreamResponder,
    TruncatedStream,
    UnexpectedChunk,
    run_streaming_in_memory,
)
from blindmatch.streaming._buckets import bucket_cap, bucket_count
from blindmatch.streaming._frames import DIR_I2R, DIR_R2I

IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(3)]
KEY = bytes(range(32))
SID = bytes(range(16, 32))
SEEDS = (bytes([7]) * 32, bytes([8]) * 32)

A = [b"a%d" % i for i in range(250)] + [b"s%d" % i for i in range(40)] + [b"a3", b"s5", b"s5"]
B = [b"b%d" % i for i in range(90)] + [b"s%d" % i for i in range(40)] + [b"b7"]


def _run(a: list[bytes], b: list[bytes], workdir: Any, mode: Any = "mutual", **kw: Any) -> Any:
    kw.setdefault("bucket_items", 32)
    return run_streaming_in_memory(
        a, b, mode, session_key=KEY, session_id=SID, initiator_identity=IDS[0], responder_identity=IDS[1],
        workdir=workdir, seeds=SEEDS, engine="ot", **kw,
    )  # fmt: skip


def _parties(tmp: Path, a: list[bytes] = A, b: list[bytes] = B, **kw: Any) -> tuple[Any, Any]:
    common: dict[str, Any] = dict(
        mode="mutual", session_id=SID, session_key=KEY, workdir=tmp, bucket_items=64
    )
    common.update(kw)
    ini = OtStreamInitiator(a, identity=IDS[0], peer=IDS[1].public, seed=SEEDS[0], **common)
    res = OtStreamResponder(b, identity=IDS[1], peer=IDS[0].public, seed=SEEDS[1], **common)
    return ini, res


def _drain(party: Any) -> list[bytes]:
    out = []
    while (c := party.next_chunk()) is not None:
        out.append(c)
    return out


def _indices(mine: list[bytes], theirs: list[bytes]) -> list[int]:
    other = set(theirs)
    return [i for i, x in enumerate(mine) if x in other]


# --- results ---


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=st.lists(st.binary(min_size=0, max_size=6), max_size=60),
    b=st.lists(st.binary(min_size=0, max_size=6), max_size=60),
    mode=st.sampled_from(["intersection", "mutual"]),
    bucket_items=st.sampled_from([4, 16, 1024]),
)
def test_matches_equal_the_set_intersection(
    a: list[bytes], b: list[bytes], mode: str, bucket_items: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ri, rr = _run(a, b, tmp, mode, bucket_items=bucket_items)
    assert list(ri.matched_indices) == _indices(a, b)
    assert ri.count == len(set(a) & set(b))
    if mode == "mutual":
        assert list(rr.matched_indices) == _indices(b, a)
        assert rr.count == ri.count
    else:
        assert rr.matched_indices is None and rr.count is None
    assert (ri.own_size, ri.peer_size, ri.distinct) == (len(set(a)), len(set(b)), len(set(a)))
    assert ri.transcript_hash == rr.transcript_hash
    assert ri.initiator_signature == rr.initiator_signature
    assert ri.responder_signature == rr.responder_signature


def test_the_same_items_as_the_in_memory_engines(tmp_path: Path) -> None:
    ri, rr = _run(A, B, tmp_path, "mutual")
    mi, mr = run_ot_in_memory(A, B, "mutual")
    assert [A[i] for i in ri.matched_indices] == [x for x in A if x in set(mi.matched or [])]
    assert {B[i] for i in rr.matched_indices} == set(mr.matched or [])
    di, dr = run_streaming_in_memory(
        A, B, "mutual", session_key=KEY, session_id=SID, initiator_identity=IDS[0],
        responder_identity=IDS[1], workdir=tmp_path, seeds=SEEDS,
    )  # fmt: skip
    assert list(di.matched_indices) == list(ri.matched_indices)
    assert list(dr.matched_indices) == list(rr.matched_indices)
    assert di.transcript_hash != ri.transcript_hash  # another engine, another transcript


def test_identical_outputs_whatever_the_chunk_size(tmp_path: Path) -> None:
    runs = [_run(A, B, tmp_path, "mutual", chunk_items=c) for c in (1, 7, 1 << 16)]
    for ri, rr in runs[1:]:
        assert ri.transcript_hash == runs[0][0].transcript_hash
        assert ri.initiator_signature == runs[0][0].initiator_signature
        assert list(rr.matched_indices) == list(runs[0][1].matched_indices)


def test_pinned_transcript(tmp_path: Path) -> None:
    """A seeded vector: fixed seeds, key, session id and items give these bytes (docs/streaming.md)."""
    ri, _ = _run(A, B, tmp_path, "mutual")
    assert ri.transcript_hash.hex() == PINNED


PINNED = "1f3f836af9b7b9ce8228fa1d8d47863260e2938e68115906c8c3502c7bdd220a"


def test_padding_hides_the_distinct_count(tmp_path: Path) -> None:
    """Padded to 400 per side, a set of 294 and one of 131 give the same wire sizes as any other."""
    sizes = []
    for a in (A, A[:10]):
        ini, res = _parties(tmp_path, a, B, padded_size=400)
        with ini, res:
            ini.prepare()
            res.prepare()
            sent = []
            while not (ini.done and res.done):
                for src, dst in ((ini, res), (res, ini)):
                    for c in _drain(src):
                        sent.append(len(c))
                        dst.receive_chunk(c)
        sizes.append(sent)
        assert [A[i] for i in ini.result.matched_indices] == [x for x in a if x in set(B)]
    assert sizes[0] == sizes[1]


def test_empty_sides(tmp_path: Path) -> None:
    for a, b in (([], []), ([], B), (A, [])):
        ri, rr = _run(a, b, tmp_path, "mutual")
        assert list(ri.matched_indices) == [] and list(rr.matched_indices) == []


def test_count_only_modes_are_refused(tmp_path: Path) -> None:
    for mode in ("cardinality", "mutual-cardinality"):
        with pytest.raises(InvalidParameter):
            _parties(tmp_path, mode=mode)


# --- buckets ---


def _tail(n: int, p: float, c: int) -> float:
    """P[Bin(n, p) > c], exactly (log space)."""
    total = 0.0
    for k in range(c + 1, n + 1):
        log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        total += math.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))
    return total


@pytest.mark.parametrize(("n", "buckets"), [(1000, 2), (3000, 8), (20000, 64), (4096, 256)])
def test_bucket_caps_meet_2_to_the_minus_40(n: int, buckets: int) -> None:
    cap = bucket_cap(n, buckets)
    assert buckets * _tail(n, 1 / buckets, cap) <= 2.0**-40
    assert cap < n  # and it is a real bound, not the whole set


def test_bucket_geometry() -> None:
    assert bucket_count(0, 16) == 1 and bucket_count(16, 16) == 1 and bucket_count(17, 16) == 2
    assert bucket_count(1 << 23, 1 << 16) == 128
    assert bucket_cap(100, 1) == 100 and bucket_cap(0, 8) == 0
    assert bucket_cap(1 << 23, 128) < 1.04 * (1 << 16)  # about 3% of padding at 2^23


def test_an_overflowing_bucket_stops_before_any_set_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket above its cap (probability <= 2^-40 for real sets; forced here) is a local error at the
    hello, before any OT message of any bucket."""
    ini, res = _parties(tmp_path)
    hello = _drain(ini)[0]
    with monkeypatch.context() as m:
        m.setattr(otstream, "bucket_cap", lambda n, b: 1)
        with ini, res, pytest.raises(CapacityError):
            res.receive_chunk(hello)
    assert res.failed
    ini, res = _parties(tmp_path)
    res.receive_chunk(_drain(ini)[0])
    their_hello = _drain(res)[0]
    monkeypatch.setattr(otstream, "bucket_cap", lambda n, b: 1)
    with ini, res, pytest.raises(CapacityError):
        ini.receive_chunk(their_hello)
    assert ini.failed


def test_spill_files_are_removed(tmp_path: Path) -> None:
    _run(A, B, tmp_path, "mutual")
    assert os.listdir(tmp_path) == []
    ini, res = _parties(tmp_path)
    with ini, res:
        res.receive_chunk(_drain(ini)[0])
        with pytest.raises(UnexpectedChunk):
            res.receive_chunk(_drain(res)[0])  # its own hello back
    assert os.listdir(tmp_path) == []


# --- hostile chunks ---


def _codec(direction: int) -> FrameCodec:
    return FrameCodec(KEY, SID, 2, direction, OT_STREAM_ID)


def test_damaged_reordered_and_foreign_chunks(tmp_path: Path) -> None:
    def hello_of_initiator() -> tuple[Any, Any, bytes]:
        ini, res = _parties(tmp_path)
        return ini, res, _drain(ini)[0]

    ini, res, hello = hello_of_initiator()
    with ini, res, pytest.raises(ChunkAuthError):
        res.receive_chunk(hello[:-1] + bytes([hello[-1] ^ 1]))
    ini, res, hello = hello_of_initiator()
    dh = FrameCodec(KEY, SID, 2, DIR_I2R)  # the DH engine's key: chunks do not open across engines
    with ini, res, pytest.raises(ChunkAuthError):
        res.receive_chunk(dh.wire(dh.seal(10, 0, True, 0, 0, hello[37:49])))
    ini, res, hello = hello_of_initiator()
    forged = _codec(DIR_I2R).wire(_codec(DIR_I2R).seal(11, 0, True, 0, 1, bytes(96)))
    with ini, res, pytest.raises(UnexpectedChunk):
        res.receive_chunk(forged)  # an OT chunk before the hello


def _to_bucket_message(tmp: Path, ot_type: int) -> tuple[Any, Any, Any, Any]:
    """Run until the receiver of OT message ``ot_type`` (of bucket 0) is about to get it."""
    ini, res = _parties(tmp)
    ini.prepare()
    res.prepare()
    src, dst = ini, res
    pending = _drain(ini)
    while True:
        for c in pending:
            if c[6] == 10 + ot_type:
                return ini, res, dst, c
            dst.receive_chunk(c)
        src, dst = dst, src
        pending = _drain(src)


@pytest.mark.parametrize("ot_type", [1, 2, 3, 4, 5])
def test_authentic_chunks_with_bad_content(tmp_path: Path, ot_type: int) -> None:
    """The peer holds the session key, so it can seal anything: wrong lengths, garbage of the right
    length, another bucket's index. Only remote errors come out."""
    for tamper in ("short", "garbage", "index", "repeat"):
        ini, res, dst, chunk = _to_bucket_message(tmp_path, ot_type)
        codec = _codec(DIR_I2R if dst is res else DIR_R2I)
        size, total, final = len(chunk) - 37 - 16, int.from_bytes(chunk[33:37], "big"), chunk[8] & 1 == 1
        with ini, res:
            if tamper == "short":
                bad = codec.wire(codec.seal(10 + ot_type, 0, final, 0, total, bytes(size - 1)))
                error: type[Exception] = MalformedChunk
            elif tamper == "garbage":
                bad = codec.wire(codec.seal(10 + ot_type, 0, final, 0, total, os.urandom(size)))
                error = RemoteError
            elif tamper == "index":
                bad = codec.wire(codec.seal(10 + ot_type, 1, False, 0, total, bytes(size)))
                error = UnexpectedChunk
            else:
                dst.receive_chunk(chunk)
                _drain(dst)
                bad, error = chunk, UnexpectedChunk
            with pytest.raises(error):
                dst.receive_chunk(bad)
            assert dst.failed


def test_the_cap_is_checked_at_the_hello(tmp_path: Path) -> None:
    ini, res = _parties(tmp_path, max_peer_items=100)  # A has 291 distinct items
    with ini, res, pytest.raises(PeerTooLarge):
        res.receive_chunk(_drain(ini)[0])


def test_a_different_bucket_size_is_refused(tmp_path: Path) -> None:
    ini, _ = _parties(tmp_path)
    _, res = _parties(tmp_path, bucket_items=128)
    with ini, res, pytest.raises(UnexpectedChunk):
        res.receive_chunk(_drain(ini)[0])


def test_a_truncated_stream(tmp_path: Path) -> None:
    ini, res, dst, _chunk = _to_bucket_message(tmp_path, 3)
    with ini, res, pytest.raises(TruncatedStream):
        dst.end_of_stream()


def test_local_errors(tmp_path: Path) -> None:
    for bad in (0, 1 << 23, True):
        with pytest.raises(InvalidParameter):
            _parties(tmp_path, bucket_items=bad)
    ini, res = _parties(tmp_path, A, B, padded_size=10)
    with ini, res, pytest.raises(CapacityError):
        ini.prepare()


@pytest.mark.parametrize("engine", ["dh", "ot"])
def test_a_spill_folder_removed_under_a_party(tmp_path: Path, engine: str) -> None:
    """A temp cleaner (or an operator) deletes the spill folder mid-run: a local FileAccessError that names
    the file, the party failed, never a bare OSError or a remote error."""
    from blindmatch.errors import FileAccessError, LocalError
    from blindmatch.streaming import StreamInitiator, StreamResponder, exchange

    kinds: dict[str, tuple[Any, Any]] = {
        "dh": (StreamInitiator, StreamResponder),
        "ot": (OtStreamInitiator, OtStreamResponder),
    }
    ini_cls, res_cls = kinds[engine]
    common: dict[str, Any] = dict(mode="mutual", session_id=SID, session_key=KEY, workdir=tmp_path)
    ini = ini_cls(A, identity=IDS[0], peer=IDS[1].public, seed=SEEDS[0], **common)
    res = res_cls(B, identity=IDS[1], peer=IDS[0].public, seed=SEEDS[1], **common)
    with ini, res:
        ini.prepare()
        res.prepare()
        shutil.rmtree(ini.spill_path)
        with pytest.raises(FileAccessError, match="spill file") as caught:
            exchange(ini, res)
        assert isinstance(caught.value, LocalError) and ini.failed
