"""The OT-extension engine: results equal Python's set intersection (and the DH engine's) in every mode it
offers, count-only modes are refused, every message is checked, and sessions run it end to end."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import LocalProtocolError, RemoteError
from blindmatch.otpsi import OtInitiator, OtResponder, run_ot_in_memory
from blindmatch.psi import run_in_memory
from blindmatch.psi._errors import ModeNotAllowed

VECTORS = Path(__file__).parent / "vectors" / "psi-ot-transcripts-v1.json"


def _items(ids: set[int], tag: str = "e") -> list[bytes]:
    return [f"{tag}{i}@example.org".encode() for i in sorted(ids)]


@settings(max_examples=15, deadline=None)
@given(
    a=st.sets(st.integers(0, 300), max_size=120),
    b=st.sets(st.integers(0, 300), max_size=120),
    mode=st.sampled_from(["intersection", "mutual"]),
)
def test_matches_set_intersection(a: set[int], b: set[int], mode: str) -> None:
    ri, rr = run_ot_in_memory(_items(a), _items(b), mode, seeds=(os.urandom(32), os.urandom(32)))
    shared = set(_items(a & b))
    assert set(ri.matched or []) == shared and ri.count == len(shared)
    if mode == "mutual":
        assert set(rr.matched or []) == shared
    else:
        assert rr.matched is None and rr.count is None


@pytest.mark.parametrize(("n_a", "n_b"), [(0, 0), (0, 7), (7, 0), (1, 1), (5000, 3000), (2000, 5000)])
def test_sizes_and_agreement_with_the_dh_engine(n_a: int, n_b: int) -> None:
    a, b = set(range(n_a)), set(range(n_a // 2, n_a // 2 + n_b))
    ri, rr = run_ot_in_memory(_items(a), _items(b), "mutual")
    dh_i, dh_r = run_in_memory(_items(a), _items(b), "mutual")
    assert sorted(ri.matched or []) == sorted(dh_i.matched or []) == _items(a & b)
    assert sorted(rr.matched or []) == sorted(dh_r.matched or []) == _items(a & b)


@pytest.mark.parametrize("mode", ["cardinality", "mutual-cardinality"])
def test_count_only_modes_are_not_offered(mode: str) -> None:
    with pytest.raises(ModeNotAllowed):
        OtInitiator([b"x"], mode, seed=bytes(32), peer_size=1)


def _parties(mode: str = "intersection") -> tuple[OtInitiator, OtResponder]:
    sid = bytes(range(16))
    a, b = _items(set(range(40))), _items(set(range(20, 70)))
    return (
        OtInitiator(a, mode, seed=bytes(32), peer_size=len(b), session_id=sid),
        OtResponder(b, seed=bytes(range(32)), peer_size=len(a), session_id=sid),
    )


def _transcript(mode: str) -> list[bytes]:
    init, resp = _parties(mode)
    msgs = [init.start()]
    msgs.append(resp.respond(msgs[-1]))
    msgs.append(init.finish(msgs[-1]) or b"")
    msgs.append(resp.respond(msgs[-1]))
    last = init.finish(msgs[-1])
    if last is not None:
        msgs.append(last)
        resp.finish(last)
    return msgs


def test_seeded_vectors() -> None:
    got = {
        mode: [hashlib.sha256(m).hexdigest() for m in _transcript(mode)]
        for mode in ("intersection", "mutual")
    }
    if not VECTORS.exists():  # written once, then pinned: regenerating is a protocol change
        VECTORS.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert got == json.loads(VECTORS.read_text(encoding="utf-8"))


def _flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos % len(b)] ^= 1 << (pos % 8)
    return bytes(b)


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_hostile_messages_raise_only_remote_errors(step: int) -> None:
    """Truncations, extensions and bit flips of each message: a remote error, or (a flip the protocol
    cannot see, inside U or a value list) a completed run; never another exception."""
    rng = hashlib.sha256(bytes([step]))
    for trial in range(40):
        rng = hashlib.sha256(rng.digest())
        init, resp = _parties("mutual")
        msgs = [init.start()]
        pos = int.from_bytes(rng.digest()[:4], "big")
        funcs = [resp.respond, init.finish, resp.respond, init.finish]
        try:
            for i, fn in enumerate(funcs):
                m = msgs[-1]
                if i == step:
                    m = (m[: pos % len(m)], m + b"\x00", _flip(m, pos))[trial % 3]
                out = fn(m)
                if out is None:
                    break
                msgs.append(out)
        except RemoteError:
            continue


def test_calls_out_of_order_raise_local_errors() -> None:
    init, resp = _parties()
    with pytest.raises(LocalProtocolError):
        init.finish(b"")
    m1 = init.start()
    with pytest.raises(LocalProtocolError):
        init.start()
    with pytest.raises(LocalProtocolError):
        resp.finish(b"")
    resp.respond(m1)


def _session(mode: str, policy_suites: frozenset[str] | None = None, **kw: object):
    import blindmatch as bm
    from blindmatch.session.manifest import OT_PSI_SUITE, PSI_SUITES

    a, b = bm.Identity.generate(), bm.Identity.generate()
    trust = bm.PeerStore()
    trust.add("lab-a", a.public)
    policy = bm.Policy(max_items_responder=256, psi_suites=policy_suites or frozenset(PSI_SUITES))
    init = bm.InitiatorSession(
        a,
        b.public,
        items_by_kind={"email": [f"u{i}@x.org" for i in range(100)]},
        mode=mode,
        max_items=256,
        purpose="ot engine test",
        psi_suite=OT_PSI_SUITE,
        **kw,
    )  # type: ignore[arg-type]
    resp = bm.ResponderSession(
        b, trust, policy, items_by_kind={"email": [f"u{i}@x.org" for i in range(60, 200)]}
    )
    return init, resp


@pytest.mark.parametrize("mode", ["intersection", "mutual"])
def test_session_runs_the_ot_engine(mode: str) -> None:
    import blindmatch as bm

    init, resp = _session(mode)
    bm.run_session_in_memory(init, resp)
    want = {("email", f"u{i}@x.org") for i in range(60, 100)}
    assert init.result is not None and set(init.result.matched or []) == want
    assert resp.result is not None
    assert (set(resp.result.matched or []) == want) if mode == "mutual" else resp.result.matched is None
    assert init.record()["outcome"]["status"] == "completed"
    with pytest.raises(LocalProtocolError):
        _session(mode)[0].save_state()


def test_policy_can_refuse_the_ot_engine() -> None:
    import blindmatch as bm
    from blindmatch.session.errors import Refused
    from blindmatch.session.manifest import PSI_SUITE

    init, resp = _session("intersection", frozenset({PSI_SUITE}))
    with pytest.raises(Refused, match="engine"):
        bm.run_session_in_memory(init, resp)


def test_manifest_refuses_count_only_and_audited_ot_sessions() -> None:
    import blindmatch as bm
    from blindmatch.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        _session("cardinality")
    terms = bm.AuditTerms(bm.Identity.generate().public.raw, rate_ppm=10_000, deadline_s=86400)
    with pytest.raises(InvalidParameter):
        _session("intersection", audit=terms)


def test_record_names_the_ot_engine() -> None:
    import blindmatch as bm
    from blindmatch.session.manifest import OT_PSI_SUITE

    init, resp = _session("mutual")
    bm.run_session_in_memory(init, resp)
    for party in (init, resp):
        assert party.record()["versions"]["psi_suite"] == OT_PSI_SUITE


def test_cuckoo_failure_aborts_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Too few bins (forced here) make insertion fail: the initiator raises CuckooFailure (a local error,
    never a silent drop or a retry with new keys) and the party is dead."""
    from blindmatch.otpsi import _party
    from blindmatch.psi._cuckoo import CuckooFailure

    monkeypatch.setattr(_party, "cuckoo_bins", lambda n, stat_bits=40: 3)
    sid = bytes(16)
    a, b = _items(set(range(10))), _items(set(range(5, 15)))
    init = OtInitiator(a, seed=bytes(32), peer_size=len(b), session_id=sid)
    resp = OtResponder(b, seed=bytes(range(32)), peer_size=len(a), session_id=sid)
    with pytest.raises(CuckooFailure):
        init.finish(resp.respond(init.start()))
    assert init.failed
    with pytest.raises(LocalProtocolError):
        init.finish(b"")
