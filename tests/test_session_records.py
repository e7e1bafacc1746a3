"""Disclosure records: signed, verifiable, the same transcript hash on both sides, no indicators."""

from __future__ import annotations

import copy
import json

import pytest
from session_support import ALICE, BOB, CAROL, make_parties, step

from blindmatch.errors import LocalProtocolError
from blindmatch.session import InvalidRecord, Policy, verify_record
from blindmatch.session.padding import conforms, make_dummies, padded_size


def _done(mode: str = "intersection") -> tuple[dict, dict]:  # type: ignore[type-arg]
    init, resp = make_parties(mode=mode)
    step(init, resp)
    return init.record(), resp.record()


def test_records_verify_and_agree() -> None:
    ri, rr = _done("mutual")
    assert verify_record(ri, ALICE.public)["role"] == "initiator"
    assert verify_record(json.dumps(rr), BOB.public.to_text())["role"] == "responder"
    assert ri["transcript_hash"] == rr["transcript_hash"]
    assert ri["session_id"] == rr["session_id"]
    assert ri["self"]["fingerprint"] == rr["peer"]["fingerprint"] == ALICE.fingerprint
    assert rr["peer"]["name"] == "alice"
    assert ri["padded_sizes"] == rr["padded_sizes"] == {"initiator": 16, "responder": 16}
    assert (
        ri["learned"]
        == rr["learned"]
        == {
            "initiator": {"learns": "intersection", "count": 5},
            "responder": {"learns": "intersection", "count": 5},
        }
    )
    assert ri["purpose"] == "joint abuse review 2026-Q4" and ri["kinds"] == ["email"]
    assert ri["times"]["started"] == "2027-01-15T08:00:00Z"
    for rec in (ri, rr):
        assert "user5@example.org" not in json.dumps(rec)


def test_responder_learns_nothing_in_intersection_mode() -> None:
    ri, rr = _done("intersection")
    assert rr["learned"]["responder"] == {"learns": "nothing", "count": None}
    assert rr["learned"]["initiator"] == {"learns": "intersection", "count": None}  # unknown to the responder
    assert ri["learned"]["initiator"] == {"learns": "intersection", "count": 5}


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(purpose="something else"),
        lambda r: r["learned"]["initiator"].update(count=6),
        lambda r: r.update(transcript_hash="00" * 32),
        lambda r: r["signature"].update(value="A" * 88),
        lambda r: r.pop("signature"),
        lambda r: r.update(version=1),
        lambda r: r.update(version=3),
        lambda r: r.update(padding="pow2"),
        lambda r: r["padding"].update(responder=None, extra="x"),
        lambda r: r.update(extra=1.5),
    ],
)
def test_altered_record_fails(change) -> None:  # type: ignore[no-untyped-def]
    ri, _ = _done()
    bad = copy.deepcopy(ri)
    change(bad)
    with pytest.raises(InvalidRecord):
        verify_record(bad, ALICE.public)


def test_record_under_the_wrong_key_fails() -> None:
    ri, _ = _done()
    with pytest.raises(InvalidRecord):
        verify_record(ri, CAROL.public)
    for junk in ["", "[]", "{" * 10, b"\xff"]:
        with pytest.raises(InvalidRecord):
            verify_record(junk, ALICE.public)


def test_record_before_the_end_is_a_local_error() -> None:
    init, resp = make_parties()
    with pytest.raises(LocalProtocolError):
        init.record()
    resp.receive(init.start())
    with pytest.raises(LocalProtocolError):
        resp.record()


def test_refusal_and_failure_records() -> None:
    init, resp = make_parties(policy=Policy(modes=frozenset({"mutual"})))
    refusal = resp.receive(init.start()) or b""
    with pytest.raises(Exception):  # noqa: B017
        init.receive(refusal)
    ri, rr = verify_record(init.record(), ALICE.public), verify_record(resp.record(), BOB.public)
    assert ri["outcome"] == {"status": "refused", "error": "Refused", "reason": ri["outcome"]["reason"]}
    assert "not allowed" in ri["outcome"]["reason"] and rr["outcome"]["status"] == "refused"
    assert ri["transcript_hash"] == rr["transcript_hash"]
    assert ri["padded_sizes"]["responder"] is None and not ri["own_set_sent"]


def test_padding_rules() -> None:
    assert [padded_size("pow2", n, 100) for n in (0, 1, 2, 3, 5, 64, 65, 100)] == [
        1,
        1,
        2,
        4,
        8,
        64,
        100,
        100,
    ]
    assert padded_size("none", 7, 10) == 7 and padded_size("cap", 7, 10) == 10
    assert conforms("pow2", 100, 100) and conforms("pow2", 64, 100) and not conforms("pow2", 65, 100)
    assert not conforms("cap", 9, 10) and not conforms("none", 11, 10)
    d = make_dummies(50)
    assert len(set(d)) == 50
    with pytest.raises(Exception):  # noqa: B017
        make_dummies(3, lambda n: b"\x00" * n)


def test_responder_uses_only_the_agreed_kinds() -> None:
    b_items = {
        "email": ["user5@example.org", "zz@example.org"],
        "ip": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
    }
    init, resp = make_parties(b_items=b_items, padding="none")
    step(init, resp)
    assert resp.result is not None and init.result is not None
    assert resp.result.own_size == 2 and init.result.peer_padded_size == 2
    assert init.result.matched == [("email", "user5@example.org")]


def test_in_memory_driver_and_tap() -> None:
    from blindmatch.session import run_session_in_memory

    seen: list[tuple[str, int]] = []
    init, resp = make_parties(mode="mutual")
    wire = run_session_in_memory(init, resp, tap=lambda d, m: seen.append((d, len(m))))
    assert [d for d, _ in seen] == ["i2r", "r2i", "i2r", "r2i", "i2r"]
    assert [n for _, n in seen] == [len(w) for w in wire]
    assert init.done and resp.done and not init.failed and not resp.failed


def test_duplicated_member_is_rejected() -> None:
    ri, _ = _done()
    text = json.dumps(ri)
    forged = '{"purpose": "FORGED: we shared everything", ' + text[1:]
    with pytest.raises(InvalidRecord, match="duplicated member"):
        verify_record(forged, ALICE.public)
    assert verify_record(text, ALICE.public)["purpose"] == ri["purpose"]


def test_record_must_name_its_signer_as_writer() -> None:
    from blindmatch.session.record import sign_record

    ri, _ = _done()
    body = {k: v for k, v in ri.items() if k != "signature"}
    body["self"] = {"fingerprint": CAROL.fingerprint, "public_key": CAROL.public.to_text()}
    claims_carol = sign_record(ALICE, body)
    with pytest.raises(InvalidRecord, match="another party as its writer"):
        verify_record(claims_carol, ALICE.public)


@pytest.mark.parametrize("drop", ["learned", "outcome", "transcript_hash", "self"])
def test_record_missing_members_is_rejected_even_when_signed(drop: str) -> None:
    from blindmatch.session.record import sign_record

    ri, _ = _done()
    body = {k: v for k, v in ri.items() if k not in ("signature", drop)}
    with pytest.raises(InvalidRecord, match="lacks the member"):
        verify_record(sign_record(ALICE, body), ALICE.public)
    minimal = sign_record(ALICE, {"format": ri["format"], "version": ri["version"]})
    with pytest.raises(InvalidRecord):
        verify_record(minimal, ALICE.public)
