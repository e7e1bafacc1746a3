"""The record body is a pure function of an immutable summary (session/record.py: record_body)."""

from __future__ import annotations

import dataclasses

from session_support import ALICE, BOB, make_parties, step

from blindmatch.session import verify_record
from blindmatch.session.record import RecordSummary, record_body, sign_record


def _bare(role: str = "initiator") -> RecordSummary:
    """A party that failed before anything was known."""
    return RecordSummary(
        role=role, writer=ALICE.public, session_id=None, peer_key=None, peer_name=None, manifest=None,
        own_padded=None, peer_padded=None, result=None, own_set_sent=False, transcript_hash=bytes(32),
        messages=0, bytes_sent=0, bytes_received=7, started=1_800_000_000.0, ended=1_800_000_001.0,
        status="failed", error="MalformedMessage", reason="short",
    )  # fmt: skip


def test_nothing_known_is_null() -> None:
    body = record_body(_bare())
    assert body["session_id"] is None
    assert body["peer"] == {"fingerprint": None, "public_key": None, "name": None}
    for key in ("purpose", "mode", "kinds", "padding", "caps"):
        assert body[key] is None
    assert "prompt_profile" not in body
    assert body["padded_sizes"] == {"initiator": None, "responder": None}
    assert body["learned"] == {r: {"learns": None, "count": None} for r in ("initiator", "responder")}
    assert body["times"] == {"started": "2027-01-15T08:00:00Z", "ended": "2027-01-15T08:00:01Z",
                             "not_before": None, "not_after": None}  # fmt: skip
    assert body["outcome"] == {"status": "failed", "error": "MalformedMessage", "reason": "short"}
    assert body["wire_bytes"] == {"sent": 0, "received": 7} and body["transcript_hash"] == "00" * 32
    # a signed bare body verifies: the schema holds for an early failure too
    verify_record(sign_record(ALICE, body), ALICE.public)


def test_pure_same_summary_same_body_and_sizes_follow_the_role() -> None:
    s = dataclasses.replace(_bare("responder"), own_padded=8, peer_padded=16)
    assert record_body(s) == record_body(s)
    assert record_body(s)["padded_sizes"] == {"initiator": 16, "responder": 8}
    s2 = dataclasses.replace(s, role="initiator")
    assert record_body(s2)["padded_sizes"] == {"initiator": 8, "responder": 16}


def test_party_records_are_the_body_of_their_summary() -> None:
    for mode in ("intersection", "mutual", "cardinality", "mutual-cardinality"):
        init, resp = make_parties(mode=mode)
        step(init, resp)
        for party, ident in ((init, ALICE), (resp, BOB)):
            rec = party.record()
            sig = rec.pop("signature")
            assert rec == record_body(party.summary()) and sig["public_key"] == ident.public.to_text()


def test_learned_counts_mutual_and_one_sided() -> None:
    init, resp = make_parties(mode="mutual")
    step(init, resp)
    s = resp.summary()
    assert s.result is not None and s.result.count == 5
    assert record_body(s)["learned"] == {"initiator": {"learns": "intersection", "count": 5},
                                         "responder": {"learns": "intersection", "count": 5}}  # fmt: skip
    init, resp = make_parties(mode="intersection")
    step(init, resp)
    assert record_body(resp.summary())["learned"]["initiator"]["count"] is None  # not the responder's to know
    assert record_body(init.summary())["learned"]["initiator"]["count"] == 5
    unfinished = dataclasses.replace(init.summary(), result=None)
    assert record_body(unfinished)["learned"]["initiator"]["count"] is None
