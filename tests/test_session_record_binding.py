"""verify_record binds a record to one session and accepts its signature only in the one canonical form."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from session_support import ALICE, BOB, make_parties, step

from blindmatch.errors import InvalidParameter
from blindmatch.session import InvalidRecord, verify_record

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _session() -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    init, resp = make_parties(mode="mutual")
    step(init, resp)
    assert init.manifest is not None
    return init.record(), resp.record(), init.manifest.session_id, init.transcript_hash


def test_record_bound_to_its_session() -> None:
    ri, rr, sid, th = _session()
    assert verify_record(ri, ALICE.public, session_id=sid, transcript_hash=th)["role"] == "initiator"
    assert verify_record(json.dumps(rr), BOB.public, session_id=sid.hex(), transcript_hash=th.hex())
    assert verify_record(rr, BOB.public, session_id=sid.hex().upper())  # hex text of either case
    assert verify_record(rr, BOB.public, transcript_hash=th)


def test_record_of_another_session_is_refused() -> None:
    ri, _, sid, _ = _session()
    other = make_parties(seed=b"other")[0]
    assert other.manifest is not None and other.manifest.session_id != sid
    with pytest.raises(InvalidRecord, match="session id"):
        verify_record(ri, ALICE.public, session_id=other.manifest.session_id)
    with pytest.raises(InvalidRecord, match="transcript"):
        verify_record(ri, ALICE.public, session_id=sid, transcript_hash=bytes(32))


def test_record_without_a_session_id_matches_no_session() -> None:
    resp = make_parties()[1]
    resp.abort("operator gave up before any hello")
    rec = resp.record()
    assert rec["session_id"] is None
    with pytest.raises(InvalidRecord, match="session id"):
        verify_record(rec, BOB.public, session_id=bytes(16))
    assert verify_record(rec, BOB.public)["outcome"]["status"] == "failed"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"session_id": 5}, TypeError),
        ({"transcript_hash": ["x"]}, TypeError),
        ({"session_id": bytes(15)}, InvalidParameter),
        ({"transcript_hash": "zz" * 32}, InvalidParameter),
        ({"transcript_hash": bytes(31)}, InvalidParameter),
    ],
)
def test_binding_arguments_are_checked(kwargs: dict[str, Any], error: type[Exception]) -> None:
    ri = _session()[0]
    with pytest.raises(error, match="must be"):
        verify_record(ri, ALICE.public, **kwargs)


def _with_value(rec: dict[str, Any], value: str) -> dict[str, Any]:
    return {**rec, "signature": {**rec["signature"], "value": value}}


def _other_trailing_bits(value: str) -> str:
    # 64 bytes are 86 base64 digits and "==": the last digit carries 2 bits, its other 4 bits must be 0
    assert len(value) == 88 and value.endswith("==")
    return value[:85] + _B64[_B64.index(value[85]) ^ 1] + value[86:]


VARIANTS = {
    "other trailing bits": _other_trailing_bits,
    "no padding": lambda v: v.rstrip("="),
    "extra padding": lambda v: v + "==",
    "newline": lambda v: v[:76] + "\n" + v[76:],
    "space": lambda v: v + " ",
    "hex": lambda v: base64.b64decode(v).hex(),
    "upper-case hex": lambda v: base64.b64decode(v).hex().upper(),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_non_canonical_signature_encoding_is_refused(name: str) -> None:
    ri = _session()[0]
    value = ri["signature"]["value"]
    variant = VARIANTS[name](value)
    assert variant != value
    with pytest.raises(InvalidRecord, match="signature"):
        verify_record(_with_value(ri, variant), ALICE.public)
    with pytest.raises(InvalidRecord, match="signature"):
        verify_record(json.dumps(_with_value(ri, variant)), ALICE.public)


def test_signature_object_holds_only_its_members() -> None:
    ri = _session()[0]
    extra = {**ri, "signature": {**ri["signature"], "comment": "not covered by the signature"}}
    with pytest.raises(InvalidRecord, match="signature"):
        verify_record(extra, ALICE.public)
    assert verify_record(ri, ALICE.public)["signature"] == ri["signature"]
