"""Published sets: queries give exactly the intersection (labels for matches only); forged, expired and
mis-keyed files and proofs are refused with typed errors; budgets hold across a restart."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import MalformedFile, RemoteError
from blindmatch.hazmat import oprf
from blindmatch.psi import IndicatorItems
from blindmatch.published import (
    EpochKey,
    EpochKeyError,
    EvaluationBudgetExceeded,
    ExpiredFile,
    ForgedFile,
    InvalidProof,
    LogMismatch,
    MalformedPublishedFile,
    MemoryEvaluationBudget,
    MismatchedFiles,
    PublicationLog,
    PublishedFile,
    PublisherSession,
    Querier,
    QuerySession,
    StoredEvaluationBudget,
    append_to_log,
    build_file,
    verify_query_record,
)
from blindmatch.published.query import answer_request, parse_request
from blindmatch.session.errors import MalformedMessage, Refused, Replayed
from blindmatch.session.identity import Identity
from blindmatch.session.peers import PeerStore
from blindmatch.transport.store import StateStore

NOW = 1_800_000_000
PUB = Identity.from_seed(bytes(range(32)))
QRY = Identity.from_seed(bytes(range(1, 33)))


def _rng(seed: int):  # deterministic bytes for reproducible files
    state = [seed.to_bytes(8, "big")]

    def rng(n: int) -> bytes:
        import hashlib

        out = b""
        while len(out) < n:
            state[0] = hashlib.sha256(state[0]).digest()
            out += state[0]
        return out[:n]

    return rng


def _key(**kw: object) -> EpochKey:
    args = {
        "not_before": NOW - 10,
        "not_after": NOW + 86400,
        "tag_bits": 72,
        "label_bytes": 48,
        "evaluations": 1 << 20,
        "canon_version": 1,
        "rng": _rng(1),
    }
    args.update(kw)
    return EpochKey.generate(PUB, "2026-12", **args)  # type: ignore[arg-type]


def _clock() -> float:
    return float(NOW)


def _query_direct(files: list[PublishedFile], key: EpochKey, mine: IndicatorItems, verifiable: bool = True):
    q = Querier(files, mine, seed=bytes(32), verifiable=verifiable)
    req = q.request()
    blinded, ver = parse_request(req, q.counts)
    ctx = b"t" * 32 + files[0].file_id
    resp = answer_request({k: key.kind_key(k) for k in blinded}, blinded, ver, ctx, bytes(32))
    return q.finish(resp, ctx)


@settings(max_examples=12, deadline=None)
@given(
    theirs=st.sets(st.integers(0, 60), max_size=25),
    mine=st.sets(st.integers(0, 60), max_size=25),
    labelled=st.sets(st.integers(0, 60), max_size=10),
)
def test_query_is_exactly_the_intersection_with_labels_for_matches_only(theirs, mine, labelled) -> None:
    key = _key()
    pub = IndicatorItems({"email": [f"u{i}@example.org" for i in sorted(theirs)]})
    labels = {("email", f"u{i}@example.org"): {"campaign": f"c{i}"} for i in labelled if i in theirs}
    data, key = build_file(PUB, key, pub, labels=labels, rng=_rng(2), clock=_clock)
    f = PublishedFile.from_bytes(data, publisher=PUB.public)
    result = _query_direct([f], key, IndicatorItems({"email": [f"u{i}@example.org" for i in sorted(mine)]}))
    assert {m.value for m in result.matches} == {f"u{i}@example.org" for i in theirs & mine}
    for m in result.matches:
        i = int(m.value[1:].split("@")[0])
        assert m.label == ({"campaign": f"c{i}"} if i in labelled else {})
    assert result.unopened == 0


def _published(items: dict[str, list[str]] | None = None, **kw: object) -> tuple[bytes, EpochKey]:
    items = items or {"email": [f"u{i}@example.org" for i in range(40)], "ip": ["192.0.2.1", "192.0.2.7"]}
    labels = {("ip", "192.0.2.7"): {"campaign": "proxy-farm", "confidence": 80}}
    return build_file(PUB, _key(**kw), IndicatorItems(items), labels=labels, rng=_rng(3), clock=_clock)


def _run(q: QuerySession, p: PublisherSession) -> None:
    m = q.start()
    while True:
        reply = p.receive(m)
        if reply is None:
            break
        m = q.receive(reply)
        if m is None:
            break


def _peers() -> PeerStore:
    peers = PeerStore()
    peers.add("querier-lab", QRY.public)
    return peers


def test_session_round_trip_and_records() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    mine = IndicatorItems(
        {"email": ["u3@example.org", "x@example.org"], "ip": ["192.0.2.7"], "domain": ["a.io"]}
    )
    q = QuerySession(QRY, PUB.public, [f], mine, clock=_clock)
    p = PublisherSession(PUB, _peers(), [key], [f], clock=_clock, budget=MemoryEvaluationBudget())
    _run(q, p)
    assert q.done and p.done and q.result is not None
    assert [(m.kind, m.value, m.label) for m in q.result.matches] == [
        ("email", "u3@example.org", {}),
        ("ip", "192.0.2.7", {"campaign": "proxy-farm", "confidence": 80}),
    ]
    assert q.result.queried == {"email": 2, "ip": 1}  # the domain: no such kind in the file, never sent
    qr, pr = verify_query_record(q.record(), QRY.public), verify_query_record(p.record(), PUB.public)
    assert qr["matched"] == 2 and pr["matched"] is None and pr["counts"] == {"email": 2, "ip": 1}
    assert "u3@example.org" not in str(qr) + str(pr)


def test_file_is_deterministic_for_a_seeded_rng() -> None:
    assert _published()[0] == _published()[0]


def test_forged_and_foreign_files_are_refused() -> None:
    data, _ = _published()
    for pos in (20, len(data) // 2, len(data) - 70, len(data) - 1):
        bad = bytearray(data)
        bad[pos] ^= 1
        with pytest.raises(MalformedFile):
            PublishedFile.from_bytes(bytes(bad))
    with pytest.raises(ForgedFile):
        PublishedFile.from_bytes(data, publisher=QRY.public)
    body = bytearray(data)
    body[-100] ^= 0x40  # in the labels: parses, but the signature fails
    with pytest.raises(ForgedFile):
        PublishedFile.from_bytes(bytes(body))


def test_hostile_file_bytes_raise_only_malformed_file() -> None:
    data, _ = _published({"email": ["a@b.org"]})
    for n in range(0, len(data), 7):
        with pytest.raises(MalformedFile):
            PublishedFile.from_bytes(data[:n])
    rng = _rng(9)
    for _ in range(200):
        bad = bytearray(data)
        for b in rng(3):
            bad[b * len(data) // 256] ^= 1 << (b % 8)
        with contextlib.suppress(MalformedFile):
            PublishedFile.from_bytes(bytes(bad))


def test_expired_file_refused_by_querier_and_publisher() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    late = float(NOW + 3 * 86400)
    with pytest.raises(ExpiredFile):
        f.check_time(late)
    mine = IndicatorItems({"email": ["u1@example.org"]})
    with pytest.raises(ExpiredFile):
        QuerySession(QRY, PUB.public, [f], mine, clock=lambda: late)
    data, key = _published(
        not_before=NOW - 1000, not_after=NOW - 100
    )  # within the querier's skew, past the publisher's
    f = PublishedFile.from_bytes(data)
    q = QuerySession(QRY, PUB.public, [f], mine, clock=_clock)
    p = PublisherSession(
        PUB, _peers(), [key], [f], clock=_clock, clock_skew_s=0, budget=MemoryEvaluationBudget()
    )
    with pytest.raises(Refused, match="validity"):
        q.receive(p.receive(q.start()) or b"")
    assert p.refusal_reason is not None


def test_wrong_key_answers_fail_the_proof() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    other = dataclasses.replace(key, secret=bytes(32))
    q = QuerySession(QRY, PUB.public, [f], IndicatorItems({"email": ["u1@example.org"]}), clock=_clock)
    p = PublisherSession(PUB, _peers(), [other], [f], clock=_clock, budget=MemoryEvaluationBudget())
    with pytest.raises(InvalidProof) as info:
        _run(q, p)
    assert isinstance(info.value, RemoteError) and q.failed


def test_unverified_wrong_key_finds_nothing() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    other = dataclasses.replace(key, secret=bytes(32))
    result = _query_direct([f], other, IndicatorItems({"email": ["u1@example.org"]}), verifiable=False)
    assert result.matches == ()  # what --no-verify risks: a silently empty answer


def test_proof_tampering() -> None:
    key = _key().kind_key("email")
    blinded, _ = oprf.blind([b"a", b"b", b"c"], bytes(32))
    out = oprf.evaluate(key, blinded)
    proof = oprf.prove(key, blinded, out, b"ctx", bytes(32))
    oprf.verify(key.public, blinded, out, b"ctx", proof)
    bad_cases = [
        (key.public, blinded, out, b"ctx2", proof),
        (key.public, blinded, out[::-1], b"ctx", proof),
        (key.public, blinded, out, b"ctx", proof[:32] + bytes(32)),
        (key.public, blinded, out, b"ctx", bytes(64)),
        (key.public, blinded, out, b"ctx", proof[:-1]),
        (key.public, blinded, [out[0], out[0], out[2]], b"ctx", proof),
    ]
    for case in bad_cases:
        with pytest.raises(InvalidProof):
            oprf.verify(*case)


SMALL_ORDER_EDWARDS = [
    bytes(32),  # not a point's canonical identity
    b"\x01" + bytes(31),  # the identity
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y = p: non-canonical
]


@pytest.mark.parametrize("point", SMALL_ORDER_EDWARDS)
def test_publisher_refuses_bad_points(point: bytes) -> None:
    with pytest.raises(oprf.InvalidGroupElement):
        oprf.evaluate(_key().kind_key("email"), [point])


def test_off_subgroup_point_refused() -> None:
    import nacl.bindings as nb

    p = oprf.hash_to_edwards([b"x"], oprf.DST_HASH)[0]
    mixed = nb.crypto_core_ed25519_add(p, SMALL_ORDER_EDWARDS[3])  # a valid curve point, off the subgroup
    with pytest.raises(oprf.InvalidGroupElement):
        oprf.evaluate(_key().kind_key("email"), [mixed])


def test_hostile_request_becomes_a_session_error() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    q = QuerySession(QRY, PUB.public, [f], IndicatorItems({"email": ["u1@example.org"]}), clock=_clock)
    p = PublisherSession(PUB, _peers(), [key], [f], clock=_clock, budget=MemoryEvaluationBudget())
    accept = p.receive(q.start())
    real = q._querier.request  # a querier that sends a small-order point instead of its blinded item

    def hostile() -> bytes:
        req = real()
        return req[:-32] + SMALL_ORDER_EDWARDS[3]

    q._querier.request = hostile  # type: ignore[method-assign]
    with pytest.raises(MalformedMessage):
        p.receive(q.receive(accept or b"") or b"")
    assert p.failed


def test_deltas_withdrawals_and_mis_keyed_files() -> None:
    data, key = _published()
    base = PublishedFile.from_bytes(data)
    mine = IndicatorItems({"email": ["u1@example.org", "late@example.org"], "ip": ["192.0.2.7"]})
    first = _query_direct([base], key, mine)
    assert {m.value for m in first.matches} == {"u1@example.org", "192.0.2.7"}
    d, key = build_file(
        PUB,
        key,
        IndicatorItems({"email": ["late@example.org"]}),
        ftype="delta",
        labels={("email", "late@example.org"): {"note": "added"}},
        rng=_rng(4),
        clock=_clock,
    )
    w, key = build_file(
        PUB, key, IndicatorItems({"ip": ["192.0.2.7"]}), ftype="withdrawal", rng=_rng(5), clock=_clock
    )
    files = [base, PublishedFile.from_bytes(d), PublishedFile.from_bytes(w)]
    later = Querier.recheck(files, first.outputs)  # re-checking saved outputs: no new evaluation
    assert {(m.value, m.sequence) for m in later.matches} == {("u1@example.org", 0), ("late@example.org", 1)}
    assert later.withdrawn == (("ip", "192.0.2.7"),)
    assert _query_direct(files, key, mine).matches == later.matches
    rogue = dataclasses.replace(key, secret=bytes(range(32)))
    r, _ = build_file(PUB, rogue, IndicatorItems({"email": ["z@example.org"]}), ftype="delta", rng=_rng(6))
    with pytest.raises(MismatchedFiles):
        Querier.recheck([*files, PublishedFile.from_bytes(r)], first.outputs)
    with pytest.raises(MismatchedFiles):
        Querier.recheck([files[1], base], first.outputs)


def test_budget_holds_across_a_restart(tmp_path) -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    mine = IndicatorItems({"ip": ["192.0.2.7", "192.0.2.8"]})
    path = tmp_path / "store.sqlite"
    for attempt in range(3):
        with StateStore(path) as store:
            budget = StoredEvaluationBudget(store, {"ip": 4})
            q = QuerySession(QRY, PUB.public, [f], mine, clock=_clock)
            p = PublisherSession(PUB, _peers(), [key], [f], budget=budget, clock=_clock)
            if attempt < 2:
                _run(q, p)
                assert q.result is not None and len(q.result.matches) == 1
            else:
                with pytest.raises(Refused, match="budget"):
                    _run(q, p)
    with StateStore(path) as store:
        assert (
            StoredEvaluationBudget(store).used(
                "querier-lab", f"{PUB.public.raw.hex()}/{f.file_id.hex()}", "ip"
            )
            == 4
        )


def test_lifetime_bound_and_memory_budget() -> None:
    budget = MemoryEvaluationBudget({"email": 100})
    budget.charge("a", "e", {"email": 6}, lifetime=10)
    with pytest.raises(EvaluationBudgetExceeded):
        budget.charge("b", "e", {"email": 6}, lifetime=10)  # another querier: the file's total is reached
    assert budget.used("b", "e", "email") == 0


def test_replayed_query_refused_and_never_charged() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    mine = IndicatorItems({"ip": ["192.0.2.7"]})
    budget = MemoryEvaluationBudget()
    seen: set[bytes] = set()
    q = QuerySession(QRY, PUB.public, [f], mine, clock=_clock)
    first = q.start()
    PublisherSession(PUB, _peers(), [key], [f], budget=budget, seen_session_ids=seen, clock=_clock).receive(
        first
    )
    with pytest.raises(Replayed):
        PublisherSession(
            PUB, _peers(), [key], [f], budget=budget, seen_session_ids=seen, clock=_clock
        ).receive(first)
    assert budget.used("querier-lab", f"{PUB.public.raw.hex()}/{f.file_id.hex()}", "ip") == 0


def test_publication_log() -> None:
    data, key = _published()
    base = PublishedFile.from_bytes(data)
    d, key = build_file(PUB, key, IndicatorItems({"email": ["n@example.org"]}), ftype="delta", rng=_rng(7))
    delta = PublishedFile.from_bytes(d)
    log = append_to_log(b"", base, NOW)
    seen = PublicationLog.from_bytes(log)
    log = append_to_log(log, delta, NOW + 1)
    now = PublicationLog.from_bytes(log)
    now.check_file(base)
    now.check_file(delta)
    now.check_extends(seen.head, seen.length)
    with pytest.raises(LogMismatch):
        append_to_log(log, base, NOW + 2)  # a second file at a taken place
    other, _ = build_file(
        PUB,
        dataclasses.replace(_key(), base_id=bytes(16)),
        IndicatorItems({"email": ["q@x.org"]}),
        rng=_rng(8),
    )
    with pytest.raises(LogMismatch):
        now.check_file(PublishedFile.from_bytes(other))  # same place, another file: equivocation
    lines = log.split(b"\n")
    forged = lines[0].replace(b'"added":1800000000', b'"added":1800000001') + b"\n" + lines[1] + b"\n"
    with pytest.raises(LogMismatch):
        PublicationLog.from_bytes(forged)
    with pytest.raises(LogMismatch):
        PublicationLog.from_bytes(log[:-1])
    with pytest.raises(LogMismatch):
        PublicationLog.from_bytes(lines[0] + b"\n").check_extends(now.head, now.length)


def test_epoch_key_file_is_private_and_destroyable(tmp_path) -> None:
    key = _key()
    path = tmp_path / "epoch.key"
    key.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert EpochKey.load(path) == key
    assert key.secret.hex() not in repr(key)
    os.chmod(path, 0o644)
    with pytest.raises(EpochKeyError):  # a key others can read is refused
        EpochKey.load(path)
    os.chmod(path, 0o600)
    assert EpochKey.destroy(path) and not path.exists()


def test_malformed_request_is_refused() -> None:
    with pytest.raises(MalformedPublishedFile):
        parse_request(b"\x01\x01\x01\x05email\x00\x00\x00\x02" + bytes(64), {"email": 1})
    with pytest.raises(MalformedPublishedFile):
        parse_request(b"\x01\x01\x01\x05email\x00\x00\x00\x01" + bytes(40), {"email": 1})


def test_querier_padding_hides_exact_counts() -> None:
    data, key = _published()
    f = PublishedFile.from_bytes(data)
    mine = IndicatorItems(
        {"email": ["u1@example.org", "u2@example.org", "no@example.org"], "ip": ["192.0.2.7"]}
    )
    q = QuerySession(QRY, PUB.public, [f], mine, padding="pow2", clock=_clock)
    p = PublisherSession(PUB, _peers(), [key], [f], clock=_clock, budget=MemoryEvaluationBudget())
    _run(q, p)
    assert p.record()["counts"] == {"email": 4, "ip": 1}
    assert q.result is not None and {m.value for m in q.result.matches} == {
        "u1@example.org",
        "u2@example.org",
        "192.0.2.7",
    }
    assert q.result.queried == {"email": 3, "ip": 1}  # the dummies' answers are dropped
