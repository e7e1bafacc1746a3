"""The streaming engine behind the session handshake (blindmatch.streaming._session), both parties in one
process: the stream key export, matches against the in-memory PSI, policy opt-in, tampering, records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import blindmatch as bm
from blindmatch.psi import run_in_memory
from blindmatch.session.channel import stream_key, traffic_keys
from blindmatch.session.errors import Refused
from blindmatch.session.manifest import PSI_SUITE, STREAM_OT_PSI_SUITE, STREAM_PSI_SUITE
from blindmatch.streaming import (
    PULL,
    STREAM_ID,
    ChunkAuthError,
    StreamingInitiatorSession,
    StreamingResponderSession,
    StreamRemoteError,
    UnexpectedChunk,
)

A = [f"u{i}@x.org" for i in range(100)]
B = [f"u{i}@x.org" for i in range(60, 200)]


def _parties(
    tmp_path: Path, mode: str = "intersection", suites: frozenset[str] = frozenset({STREAM_PSI_SUITE}),
    chunk_items: int = 16,
) -> tuple[StreamingInitiatorSession, StreamingResponderSession, bm.Identity, bm.Identity]:  # fmt: skip
    a, b = bm.Identity.generate(), bm.Identity.generate()
    trust = bm.PeerStore()
    trust.add("lab-a", a.public)
    policy = bm.Policy(max_items_responder=256, psi_suites=suites)
    init = StreamingInitiatorSession(
        a, b.public, workdir=tmp_path, chunk_items=chunk_items, frame_items=32, items_by_kind={"email": A},
        mode=mode, max_items=256, purpose="stream engine test",
    )  # fmt: skip
    resp = StreamingResponderSession(
        b,
        trust,
        policy,
        workdir=tmp_path,
        chunk_items=chunk_items,
        frame_items=32,
        items_by_kind={"email": B},
    )
    return init, resp, a, b


def _run(init: Any, resp: Any, tamper: int | None = None) -> list[bytes]:
    """Both parties over a perfect link; ``tamper``: flip a byte of that wire message (from 0)."""
    wire: list[bytes] = []
    msg: bytes | None = init.start()
    sender, receiver = init, resp
    while msg is not None:
        if tamper is not None and len(wire) == tamper:
            msg = msg[:-1] + bytes([msg[-1] ^ 1])
        wire.append(msg)
        msg = receiver.receive(msg)
        sender, receiver = receiver, sender
    return wire


def test_stream_key_is_domain_separated() -> None:
    shared, salt = b"\x01" * 32, b"\x02" * 64
    key = stream_key(shared, salt)
    assert len(key) == 32 and key not in traffic_keys(shared, salt)
    assert stream_key(shared, salt) == key and stream_key(shared, b"\x03" * 64) != key
    assert STREAM_ID.decode() == STREAM_PSI_SUITE


@pytest.mark.parametrize("mode", ["intersection", "mutual", "cardinality", "mutual-cardinality"])
def test_matches_equal_the_in_memory_psi(tmp_path: Path, mode: str) -> None:
    init, resp, _, _ = _parties(tmp_path, mode)
    wire = _run(init, resp)
    assert PULL in wire and len(wire) > 10  # several chunks a message
    assert init.done and resp.done and not init.failed and not resp.failed
    items_a = [bm.indicator_item("email", v) for v in A]
    items_b = [bm.indicator_item("email", v) for v in B]
    psi_a, psi_b = run_in_memory(items_a, items_b, mode)  # type: ignore[arg-type]
    want = {("email", f"u{i}@x.org") for i in range(60, 100)}
    ri, rr = init.result, resp.result
    assert ri is not None and rr is not None
    assert ri.count == psi_a.count and rr.count == psi_b.count
    if mode in ("intersection", "mutual"):
        assert set(ri.matched or []) == want
        assert set(ri.matched_items or []) == set(psi_a.matched or [])
    if mode == "mutual":
        assert set(rr.matched or []) == want
    assert ri.transcript_hash == rr.transcript_hash
    assert (ri.own_padded_size, ri.peer_padded_size) == (128, 256)  # pow2 of 100, and of 140
    for party, signer in ((init, init.session), (resp, resp.session)):
        rec = bm.verify_record(party.record(), signer.summary().writer, transcript_hash=ri.transcript_hash)
        assert rec["outcome"]["status"] == "completed"
        assert rec["versions"]["psi_suite"] == STREAM_PSI_SUITE
        assert rec["padded_sizes"] == {"initiator": 128, "responder": 256}
        assert rec["own_set_sent"] is True
    assert not list(tmp_path.iterdir())  # spill folders deleted


def test_frames_stay_bounded(tmp_path: Path) -> None:
    init, resp, _, _ = _parties(tmp_path, "mutual")
    wire = _run(init, resp)
    assert max(len(m) for m in wire[2:]) <= init.max_next_message or init.done
    assert all(m == PULL or m[:4] == b"BMSC" for m in wire[2:])


def test_responder_must_opt_in(tmp_path: Path) -> None:
    init, resp, _, _ = _parties(tmp_path, suites=frozenset({PSI_SUITE}))
    with pytest.raises(Refused, match="engine"):
        _run(init, resp)
    assert init.record()["outcome"]["status"] == "refused"
    assert resp.record()["outcome"]["status"] == "refused"
    assert not init.streaming and not resp.streaming


def test_responder_wrapper_runs_other_engines_unchanged(tmp_path: Path) -> None:
    a, b = bm.Identity.generate(), bm.Identity.generate()
    trust = bm.PeerStore()
    trust.add("lab-a", a.public)
    resp = StreamingResponderSession(b, trust, bm.Policy(max_items_responder=256), workdir=tmp_path,
                                     items_by_kind={"email": B})  # fmt: skip
    init = bm.InitiatorSession(a, b.public, items_by_kind={"email": A}, max_items=256, purpose="dh")
    _run(init, resp)
    assert init.result is not None and len(init.result.matched or []) == 40
    assert resp.done and not resp.streaming


@pytest.mark.parametrize(
    ("at", "error"), [(2, ChunkAuthError), (3, UnexpectedChunk), (6, ChunkAuthError), (9, ChunkAuthError)]
)
def test_tampered_chunk_fails_with_a_signed_record(tmp_path: Path, at: int, error: type[Exception]) -> None:
    """Wire: hello, accept, then request chunks (even) and pulls (odd), then the responder's chunks."""
    init, resp, a, b = _parties(tmp_path, "mutual")
    with pytest.raises(error) as caught:
        _run(init, resp, tamper=at)
    assert isinstance(caught.value, StreamRemoteError)
    victim, signer = (resp, b) if at % 2 == 0 else (init, a)
    assert victim.failed and victim.done
    rec = bm.verify_record(victim.record(), signer.public)
    assert rec["outcome"] == {
        "status": "failed",
        "error": error.__name__,
        "reason": rec["outcome"]["reason"],
    }
    other = init if victim is resp else resp
    other.abort("the peer went away")
    assert other.record()["outcome"]["error"] == "aborted"
    assert not list(tmp_path.iterdir())  # both spill folders deleted


def test_stream_manifest_is_never_audited(tmp_path: Path) -> None:
    terms = bm.AuditTerms(bm.Identity.generate().public.raw, rate_ppm=10_000, deadline_s=86400)
    a, b = bm.Identity.generate(), bm.Identity.generate()
    with pytest.raises(bm.InvalidParameter):
        StreamingInitiatorSession(a, b.public, workdir=tmp_path, items_by_kind={"email": A},
                                  max_items=256, purpose="x", audit=terms)  # fmt: skip


# --- the OT engine in buckets behind the same handshake ---


def _ot_parties(tmp_path: Path, mode: str) -> tuple[StreamingInitiatorSession, StreamingResponderSession]:
    a, b = bm.Identity.generate(), bm.Identity.generate()
    trust = bm.PeerStore()
    trust.add("lab-a", a.public)
    policy = bm.Policy(max_items_responder=256, psi_suites=frozenset({STREAM_OT_PSI_SUITE}))
    init = StreamingInitiatorSession(
        a, b.public, workdir=tmp_path, chunk_items=16, bucket_items=32, items_by_kind={"email": A},
        mode=mode, max_items=256, purpose="stream engine test", psi_suite=STREAM_OT_PSI_SUITE,
    )  # fmt: skip
    resp = StreamingResponderSession(
        b, trust, policy, workdir=tmp_path, chunk_items=16, bucket_items=32, items_by_kind={"email": B}
    )
    return init, resp


@pytest.mark.parametrize("mode", ["intersection", "mutual"])
def test_ot_buckets_behind_the_handshake(tmp_path: Path, mode: str) -> None:
    init, resp = _ot_parties(tmp_path, mode)
    wire = _run(init, resp)
    assert all(m == PULL or m[:4] == b"BMSC" for m in wire[2:])
    assert init.done and resp.done and not init.failed and not resp.failed
    want = {("email", f"u{i}@x.org") for i in range(60, 100)}
    ri, rr = init.result, resp.result
    assert ri is not None and rr is not None
    assert set(ri.matched or []) == want and ri.count == 40
    assert set(rr.matched or []) == (want if mode == "mutual" else set())
    assert ri.transcript_hash == rr.transcript_hash
    for party in (init, resp):
        rec = bm.verify_record(
            party.record(), party.session.summary().writer, transcript_hash=ri.transcript_hash
        )
        assert rec["outcome"]["status"] == "completed"
        assert rec["versions"]["psi_suite"] == STREAM_OT_PSI_SUITE
        assert rec["padded_sizes"] == {"initiator": 128, "responder": 256}
    assert not list(tmp_path.iterdir())


def test_ot_buckets_refuse_count_only_modes(tmp_path: Path) -> None:
    with pytest.raises(bm.InvalidParameter):
        _ot_parties(tmp_path, "cardinality")


def test_the_same_record_whatever_the_engine(tmp_path: Path) -> None:
    """Results and records of the in-memory DH engine and both streaming engines agree on everything but
    the engine's suite, the transcript hash and the message counts (docs/streaming.md, "Records")."""
    a, b = bm.Identity.generate(), bm.Identity.generate()
    trust = bm.PeerStore()
    trust.add("lab-a", a.public)
    policy = bm.Policy(
        max_items_responder=256, psi_suites=frozenset({PSI_SUITE, STREAM_PSI_SUITE, STREAM_OT_PSI_SUITE})
    )
    records = {}
    for suite in (PSI_SUITE, STREAM_PSI_SUITE, STREAM_OT_PSI_SUITE):
        common: dict[str, Any] = dict(
            items_by_kind={"email": A}, mode="mutual", max_items=256, purpose="same"
        )
        if suite == PSI_SUITE:
            init: Any = bm.InitiatorSession(a, b.public, **common)
        else:
            init = StreamingInitiatorSession(a, b.public, workdir=tmp_path, psi_suite=suite, **common)
        resp = StreamingResponderSession(b, trust, policy, workdir=tmp_path, items_by_kind={"email": B})
        _run(init, resp)
        assert init.result is not None and resp.result is not None
        records[suite] = (init.result, resp.result, init.record(), resp.record())
    base = records[PSI_SUITE]
    for suite in (STREAM_PSI_SUITE, STREAM_OT_PSI_SUITE):
        other = records[suite]
        for k in (0, 1):
            assert sorted(other[k].matched or []) == sorted(base[k].matched or [])
            assert other[k].count == base[k].count
            assert (other[k].own_padded_size, other[k].peer_padded_size) == (
                base[k].own_padded_size,
                base[k].peer_padded_size,
            )
        for k in (2, 3):
            same = {key for key in base[k] if key in other[k] and base[k][key] == other[k][key]}
            differ = set(base[k]) ^ set(other[k]) | {
                key for key in base[k] if key in other[k] and key not in same
            }
            assert differ <= VARYING, differ - VARYING
            assert {**other[k]["versions"], "psi_suite": None} == {**base[k]["versions"], "psi_suite": None}
            assert (
                other[k]["learned"] == base[k]["learned"]
                and other[k]["padded_sizes"] == base[k]["padded_sizes"]
            )


#: record members that differ between two sessions over the same sets anyway (ids, times, keys, hashes,
#: signatures) or by engine (the suite, message counts and bytes)
VARYING = {"session_id", "transcript_hash", "messages", "wire_bytes", "signature", "versions", "times"}


def test_a_peer_that_sends_out_of_turn(tmp_path: Path) -> None:
    """A chunk where a pull was due (the initiator still has request chunks to send) is the peer's fault:
    the wrapper refuses it before the streaming party sees it, and the session fails with a record."""
    init, resp, _, _ = _parties(tmp_path, "mutual")
    first = init.receive(resp.receive(init.start()) or b"")
    assert first is not None and first[:4] == b"BMSC"
    assert resp.receive(first) == PULL
    with pytest.raises(UnexpectedChunk, match="still sending"):
        init.receive(first)  # any chunk instead of the pull
    assert init.failed and init.record()["outcome"]["error"] == "UnexpectedChunk"
    resp.abort("the peer went away")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suite", [STREAM_PSI_SUITE, STREAM_OT_PSI_SUITE])
@pytest.mark.parametrize("mode", ["intersection", "mutual"])
def test_progress_counts_every_chunk(tmp_path: Path, suite: str, mode: str) -> None:
    """The progress callback (what `connect` draws) sees the own set prepared as one step, then the
    chunks up to a total the sizes fix in advance, ending at done == total, never going back."""
    from blindmatch._progress import STAGE_STREAM, STAGE_STREAM_PREPARE

    a, b = bm.Identity.generate(), bm.Identity.generate()
    trust = bm.PeerStore()
    trust.add("lab-a", a.public)
    calls: dict[str, list[tuple[str, int, int]]] = {"initiator": [], "responder": []}
    policy = bm.Policy(max_items_responder=256, psi_suites=frozenset({suite}))
    init = StreamingInitiatorSession(
        a, b.public, workdir=tmp_path, chunk_items=16, frame_items=32, bucket_items=32,
        items_by_kind={"email": A}, mode=mode, max_items=256, purpose="progress", psi_suite=suite,
        progress=lambda *c: calls["initiator"].append(c),
    )  # fmt: skip
    resp = StreamingResponderSession(
        b, trust, policy, workdir=tmp_path, chunk_items=16, frame_items=32, bucket_items=32,
        items_by_kind={"email": B}, progress=lambda *c: calls["responder"].append(c),
    )  # fmt: skip
    wire = _run(init, resp)
    chunks = sum(1 for m in wire[2:] if m != PULL)
    for role, seen in calls.items():
        prep = [c for c in seen if c[0] == STAGE_STREAM_PREPARE]
        stream = [c for c in seen if c[0] == STAGE_STREAM]
        assert prep == [(STAGE_STREAM_PREPARE, 0, 1), (STAGE_STREAM_PREPARE, 1, 1)], role
        assert stream[-1] == (STAGE_STREAM, chunks, chunks), role  # the total was right from the start
        assert {c[2] for c in stream} == {chunks}
        done = [c[1] for c in stream]
        assert done == sorted(done)
