"""Streaming DH-PSI (``blindmatch.streaming``, ``docs/streaming.md``): results against sets, identical
outputs whatever the chunk size, a global wire order, private spill files that go away, hostile streams."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blindmatch.streaming._own as own_mod
import blindmatch.streaming._party as party_mod
from blindmatch._derive import derive_key
from blindmatch.errors import CapacityError, InvalidParameter, LocalProtocolError, RemoteError
from blindmatch.hazmat.group import clamp_scalar, hash_to_group_and_blind
from blindmatch.psi import run_in_memory as psi_run_in_memory
from blindmatch.psi._errors import PeerTooLarge
from blindmatch.session.identity import Identity
from blindmatch.session.padding import DUMMY_PREFIX
from blindmatch.streaming import (
    BadSignature,
    ChunkAuthError,
    FrameCodec,
    MalformedChunk,
    SkewedHashes,
    StreamInitiator,
    StreamResponder,
    TruncatedStream,
    UnexpectedChunk,
    exchange,
    run_streaming_in_memory,
    select_items,
)
from blindmatch.streaming._spill import HASH_DTYPE, HASH_ROW, Partitions, SpillDir, join

IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(3)]
KEY = bytes(range(32))
SID = bytes(range(16, 32))
SEEDS = (bytes([7]) * 32, bytes([8]) * 32)
DST = b"blindmatch-psi-v1/x25519-ell2ro-sha512/hash-to-group"

A = [b"a%d" % i for i in range(250)] + [b"s%d" % i for i in range(40)] + [b"a3", b"s5", b"s5"]
B = [b"b%d" % i for i in range(90)] + [b"s%d" % i for i in range(40)] + [b"b7"]


def _run(a: list[bytes], b: list[bytes], workdir: Any, mode: Any = "mutual", **kw: Any) -> Any:
    return run_streaming_in_memory(
        a, b, mode, session_key=KEY, session_id=SID, initiator_identity=IDS[0], responder_identity=IDS[1],
        workdir=workdir, seeds=SEEDS, **kw,
    )  # fmt: skip


def _parties(tmp: Path, a: list[bytes] = A, b: list[bytes] = B, **kw: Any) -> tuple[Any, Any]:
    common: dict[str, Any] = dict(mode="mutual", session_id=SID, session_key=KEY, workdir=tmp, frame_items=16)
    common.update(kw)
    ini = StreamInitiator(a, identity=IDS[0], peer=IDS[1].public, seed=SEEDS[0], **common)
    res = StreamResponder(b, identity=IDS[1], peer=IDS[0].public, seed=SEEDS[1], **common)
    return ini, res


def _drain(party: Any) -> list[bytes]:
    out = []
    while (c := party.next_chunk()) is not None:
        out.append(c)
    return out


def _expected(mine: list[bytes], theirs: list[bytes]) -> list[bytes]:
    other = set(theirs)
    return [x for x in mine if x in other]


# --- results ---


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=st.lists(st.binary(max_size=3), max_size=24),
    b=st.lists(st.binary(max_size=3), max_size=24),
    mode=st.sampled_from(["intersection", "mutual", "cardinality", "mutual-cardinality"]),
    chunk=st.integers(1, 9),
    frame=st.integers(1, 7),
    pad=st.integers(0, 5),
)
def test_matches_equal_the_set_intersection(
    a: list[bytes], b: list[bytes], mode: str, chunk: int, frame: int, pad: int
) -> None:
    with tempfile.TemporaryDirectory() as wd:
        ri, rr = _run(
            a, b, wd, mode, chunk_items=chunk, frame_items=frame, padded_sizes=(len(set(a)) + pad, None)
        )
        assert os.listdir(wd) == []
    count_only = mode.endswith("cardinality")
    if count_only:
        assert ri.matched_indices is None and rr.matched_indices is None
    else:
        assert list(select_items(a, ri.matched_indices)) == _expected(a, b)
    assert ri.count == len(set(a) & set(b))
    assert (ri.own_size, ri.peer_size, ri.distinct) == (len(set(a)) + pad, len(set(b)), len(set(a)))
    if mode == "mutual":
        assert list(select_items(b, rr.matched_indices)) == _expected(b, a)
    if mode.startswith("mutual"):
        assert rr.count == ri.count
    else:
        assert rr.matched_indices is None and rr.count is None
    assert ri.transcript_hash == rr.transcript_hash
    assert (ri.initiator_signature, ri.responder_signature) == (
        rr.initiator_signature,
        rr.responder_signature,
    )


def test_identical_outputs_whatever_the_chunk_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files: list[str] = []
    real = SpillDir.new_path
    monkeypatch.setattr(SpillDir, "new_path", lambda self, stem: files.append(stem) or real(self, stem))
    outs = []
    for chunk in (1, 7, 1 << 20):  # 1: one run per item (more than MAX_RUNS: a grouped merge pass)
        files.clear()
        ri, rr = _run(A, B, tmp_path, chunk_items=chunk, frame_items=16, padded_sizes=(300, 150))
        outs.append((ri, rr, files.count("run")))
    assert outs[0][2] == len(A) + len(B) + 2 and outs[-1][2] == 2  # 2: the grouped merge's runs
    for ri, rr, _ in outs[1:]:
        for got, ref in ((ri, outs[0][0]), (rr, outs[0][1])):
            assert got.matched_indices.tolist() == ref.matched_indices.tolist()
            assert (got.count, got.own_size, got.peer_size, got.distinct) == (
                ref.count, ref.own_size, ref.peer_size, ref.distinct,
            )  # fmt: skip
            assert got.transcript_hash == ref.transcript_hash
            assert (got.initiator_signature, got.responder_signature) == (
                ref.initiator_signature, ref.responder_signature,
            )  # fmt: skip
    assert IDS[0].public.verify(outs[0][0].initiator_signature, b"x") is False
    assert [A[i] for i in outs[0][0].matched_indices] == _expected(A, B)
    assert outs[0][0].count == 40 and outs[0][1].count == 40


@pytest.mark.parametrize("mode", ["intersection", "mutual", "cardinality", "mutual-cardinality"])
def test_same_results_as_the_in_memory_protocol(tmp_path: Path, mode: Any) -> None:
    pi, pr = psi_run_in_memory(A, B, mode)
    si, sr = _run(A, B, tmp_path, mode, chunk_items=5, frame_items=16)
    assert (si.count, sr.count) == (pi.count, pr.count)
    assert (None if si.matched_indices is None else list(select_items(A, si.matched_indices))) == pi.matched
    assert (None if sr.matched_indices is None else list(select_items(B, sr.matched_indices))) == pr.matched


def test_pinned_transcript(tmp_path: Path) -> None:
    """Seeds, keys and identities fixed: the transcript (every chunk on the wire) is pinned."""
    ri, rr = _run([b"x", b"y", b"z"], [b"y", b"z", b"w", b"v"], tmp_path, frame_items=2)
    assert ri.transcript_hash.hex() == "570bdb02a9d3a732edb8389a48424f9f7bd92f183f8c3040ba41b34ff01aa34c"
    assert ri.matched_indices.tolist() == [1, 2] and rr.matched_indices.tolist() == [0, 1]
    assert ri.initiator_signature.hex().startswith("0d3932e1904906ccf8078ba8e1bb47f9")


def test_empty_sides(tmp_path: Path) -> None:
    for a, b in (([], B), (A, []), ([], [])):
        ri, rr = _run(a, b, tmp_path, frame_items=8)
        assert ri.count == 0 and rr.count == 0
        assert ri.matched_indices.tolist() == [] and ri.transcript_hash == rr.transcript_hash


# --- the wire order ---


def test_the_wire_order_is_sorted_by_blinded_value(tmp_path: Path) -> None:
    ini, res = _parties(tmp_path)
    with ini, res:
        chunks = _drain(ini)
        peer_view = FrameCodec(KEY, SID, 2, 2)
        frames = [peer_view.open(c) for c in chunks]
        assert [f.count for f in frames] == [16] * 18 + [2]  # 290 distinct items in frames of 16
        wire = b"".join(f.body for f in frames)
        values = [wire[i : i + 32] for i in range(0, len(wire), 32)]
        scalar = clamp_scalar(derive_key(SEEDS[0], b"blindmatch/stream/v1/initiator/scalar"))
        blinded = hash_to_group_and_blind(scalar, DST, list(dict.fromkeys(A)))
        assert values == sorted(blinded)  # ascending: a permutation of the whole list, not per chunk
        assert values[:16] != blinded[:16] and set(values[:16]) != set(blinded[:16])
        for c in chunks:
            res.receive_chunk(c)


@pytest.mark.parametrize("mode", ["intersection", "cardinality"])
def test_count_only_modes_sort_the_hash_list(tmp_path: Path, mode: str) -> None:
    ini, res = _parties(tmp_path, mode=mode)
    with ini, res:
        for c in _drain(ini):
            res.receive_chunk(c)
        view = FrameCodec(KEY, SID, 1 if mode == "intersection" else 3, 1)
        frames = [view.open(c) for c in _drain(res)]
        hashes = b"".join(f.body for f in frames if f.mtype == 3)
        listed = [hashes[i : i + 16] for i in range(0, len(hashes), 16)]
        assert len(listed) == 290
        assert (listed == sorted(listed)) == (mode == "cardinality")


# --- spill files ---


def test_spill_files_are_private_and_removed(tmp_path: Path) -> None:
    ini, res = _parties(tmp_path)
    ini.prepare()
    spill = Path(ini.spill_path)
    assert spill.parent == tmp_path and stat.S_IMODE(spill.stat().st_mode) == 0o700
    files = list(spill.iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(b"a1" not in p.read_bytes() for p in files)
    exchange(ini, res)
    assert os.listdir(tmp_path) == []


def test_spill_files_removed_after_a_failure(tmp_path: Path) -> None:
    ini, res = _parties(tmp_path)
    chunks = _drain(ini)
    res.prepare()
    bad = bytearray(chunks[1])
    bad[-1] ^= 1
    res.receive_chunk(chunks[0])
    with pytest.raises(ChunkAuthError):
        res.receive_chunk(bytes(bad))
    assert res.failed and not os.path.exists(res.spill_path)
    with pytest.raises(LocalProtocolError):
        res.receive_chunk(chunks[1])
    ini.close()
    assert os.listdir(tmp_path) == []


# --- hostile streams ---


def _request_to(tmp: Path, tamper: Callable[[list[bytes]], list[bytes]], **kw: Any) -> StreamResponder:
    ini, res = _parties(tmp, **kw)
    with ini:
        chunks = tamper(_drain(ini))
    try:
        for c in chunks:
            res.receive_chunk(c)
        res.end_of_stream()
    finally:
        res.close()
    return res


def _flip(chunk: bytes, at: int) -> bytes:
    b = bytearray(chunk)
    b[at] ^= 1
    return bytes(b)


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda c: c[:-1], TruncatedStream),  # the final chunk missing
        (lambda c: [c[1], c[0], *c[2:]], UnexpectedChunk),  # reordered
        (lambda c: [c[0], c[0], *c[1:]], UnexpectedChunk),  # repeated
        (lambda c: [c[0], *c[2:]], UnexpectedChunk),  # dropped
        (lambda c: [c[0], _flip(c[1], 60), *c[2:]], ChunkAuthError),  # a ciphertext bit
        (lambda c: [_flip(c[0], 8), *c[1:]], ChunkAuthError),  # the final flag
        (lambda c: [_flip(c[0], 32), *c[1:]], ChunkAuthError),  # the chunk's count
        (lambda c: [_flip(c[0], 10), *c[1:]], UnexpectedChunk),  # the session id
        (lambda c: [_flip(c[0], 5), *c[1:]], UnexpectedChunk),  # the direction
        (lambda c: [_flip(c[0], 0), *c[1:]], MalformedChunk),  # the magic
        (lambda c: [c[0][:40], *c[1:]], MalformedChunk),  # cut short
    ],
)
def test_hostile_request_streams(tmp_path: Path, tamper: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        _request_to(tmp_path, tamper)
    assert isinstance(info.value, RemoteError)
    assert os.listdir(tmp_path) == []


def test_chunks_of_another_session_or_key(tmp_path: Path) -> None:
    other = bytes(16)
    ini, res = _parties(tmp_path, session_id=other)
    with ini, res:
        foreign = _drain(ini)
    with pytest.raises(UnexpectedChunk):
        _request_to(tmp_path, lambda c: [foreign[0], *c[1:]])
    ini, res = _parties(tmp_path, session_key=bytes(32))
    with ini, res:
        foreign = _drain(ini)
    with pytest.raises(ChunkAuthError):
        _request_to(tmp_path, lambda c: [foreign[0], *c[1:]])
    assert os.listdir(tmp_path) == []


def test_a_reflected_chunk_is_refused(tmp_path: Path) -> None:
    ini, res = _parties(tmp_path)
    with ini, res:
        for c in _drain(ini):
            res.receive_chunk(c)
        back = _drain(res)
        with pytest.raises(UnexpectedChunk):
            res.receive_chunk(back[0])


def _sealed(elements: list[bytes], total: int | None = None) -> bytes:
    codec = FrameCodec(KEY, SID, 2, 1)
    n = len(elements) if total is None else total
    return codec.wire(codec.seal(1, 0, True, len(elements), n, b"".join(elements)))


def test_authentic_chunks_with_bad_content(tmp_path: Path) -> None:
    scalar = clamp_scalar(bytes(32))
    good = sorted(hash_to_group_and_blind(scalar, DST, [b"x", b"y", b"z"]))
    for elements, error in (
        ([good[1], good[0], good[2]], UnexpectedChunk),  # not ascending
        ([good[0], good[0], good[1]], Exception),  # repeated
        ([bytes(32), good[0], good[1]], Exception),  # small order
        ([good[0], good[1], b"\xff" * 32], Exception),  # not canonical
    ):
        _, res = _parties(tmp_path)
        with res, pytest.raises(error) as info:
            res.receive_chunk(_sealed(elements))
        assert isinstance(info.value, RemoteError)
    _, res = _parties(tmp_path)
    with res, pytest.raises(UnexpectedChunk):  # a count that breaks the framing rule (16 per chunk)
        res.receive_chunk(_sealed(good, total=40))


def test_the_cap_is_checked_before_any_group_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ini, res = _parties(tmp_path, max_peer_items=100)
    with ini, res:
        chunks = _drain(ini)

        def forbidden(*args: Any) -> Any:
            raise AssertionError("group work before the cap check")

        monkeypatch.setattr(party_mod, "blind_and_hash", forbidden)
        monkeypatch.setattr(own_mod, "hash_to_group_and_blind", forbidden)
        with pytest.raises(PeerTooLarge):
            res.receive_chunk(chunks[0])
    assert os.listdir(tmp_path) == []


def test_the_initiator_checks_its_cap_too(tmp_path: Path) -> None:
    _, res = _parties(tmp_path)
    ini = StreamInitiator(A, mode="mutual", session_id=SID, session_key=KEY, workdir=tmp_path, frame_items=16,
                          identity=IDS[0], peer=IDS[1].public, seed=SEEDS[0], max_peer_items=100)  # fmt: skip
    with ini, res:
        for c in _drain(ini):
            res.receive_chunk(c)
        with pytest.raises(PeerTooLarge):
            ini.receive_chunk(_drain(res)[0])


_REQUEST: list[bytes] = []


@settings(max_examples=40, deadline=None)
@given(where=st.integers(0, 10**6), flip=st.integers(1, 255), cut=st.booleans(), which=st.integers(0, 30))
def test_any_damaged_chunk_raises_a_remote_error(where: int, flip: int, cut: bool, which: int) -> None:
    """Fuzz: one chunk of a valid request flipped or cut anywhere: a remote error, nothing else."""
    with tempfile.TemporaryDirectory() as wd:
        if not _REQUEST:
            ini, res = _parties(Path(wd))
            with ini, res:
                _REQUEST.extend(_drain(ini))
        chunks = list(_REQUEST)
        k = which % len(chunks)
        c = bytearray(chunks[k])
        if cut:
            del c[where % len(c) :]
        else:
            c[where % len(c)] ^= flip
        chunks[k] = bytes(c)
        with pytest.raises(RemoteError):
            _request_to(Path(wd), lambda _: chunks)
        assert os.listdir(wd) == []


def test_a_wrong_peer_identity_fails_the_signature(tmp_path: Path) -> None:
    ini = StreamInitiator(A, mode="intersection", session_id=SID, session_key=KEY, workdir=tmp_path,
                          identity=IDS[0], peer=IDS[2].public, seed=SEEDS[0])  # fmt: skip
    res = StreamResponder(B, mode="intersection", session_id=SID, session_key=KEY, workdir=tmp_path,
                          identity=IDS[1], peer=IDS[0].public, seed=SEEDS[1])  # fmt: skip
    with ini, res, pytest.raises(BadSignature):
        exchange(ini, res)
    with pytest.raises(LocalProtocolError):
        ini.result  # noqa: B018
    assert os.listdir(tmp_path) == []


def test_skewed_peer_hashes_are_refused(tmp_path: Path) -> None:
    spill = SpillDir(tmp_path)
    theirs = Partitions(spill, "t", 64, HASH_ROW)
    mine = Partitions(spill, "m", 64, HASH_DTYPE)
    rows = np.zeros(1000, HASH_ROW)
    rows["h"] = [b"\x00\x00" + i.to_bytes(14, "big") for i in range(1000)]
    theirs.add(rows)
    with pytest.raises(SkewedHashes):
        join(theirs, mine)
    spill.cleanup()
    assert os.listdir(tmp_path) == []


# --- careless callers ---


def test_local_errors(tmp_path: Path) -> None:
    with pytest.raises(CapacityError):
        _run(A, B, tmp_path, padded_sizes=(10, None))
    with pytest.raises(InvalidParameter):
        _run([DUMMY_PREFIX + b"x"], B, tmp_path)
    with pytest.raises(InvalidParameter):
        _run(["text"], B, tmp_path)  # type: ignore[list-item]
    with pytest.raises(InvalidParameter):
        _run(A, B, tmp_path, mode="threshold")
    with pytest.raises(InvalidParameter):
        _parties(tmp_path, session_key=b"short")
    assert os.listdir(tmp_path) == []
    ini, _ = _parties(tmp_path)
    with pytest.raises(LocalProtocolError):
        ini.result  # noqa: B018
    ini.close()
    with pytest.raises(LocalProtocolError):
        ini.next_chunk()
    with pytest.raises(InvalidParameter):
        list(select_items(A[:3], [5]))
