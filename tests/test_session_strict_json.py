"""Received session JSON is strict and canonical, and peer text is never printed as it came.

Each hostile body below is signed again by the trusted sender's own key, so the signature verifies and only
the JSON checks can refuse it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_support import ALICE, BOB, make_parties, step

from blindmatch.errors import InvalidParameter, RemoteProtocolError
from blindmatch.session import MalformedMessage, Manifest, Policy, Refused
from blindmatch.session._canonjson import canonical_json
from blindmatch.session.channel import HEADER_BYTES, pack_header, parse_header, sign_message

Encode = Callable[[dict[str, Any]], bytes]


def _body(wire: bytes) -> dict[str, Any]:
    h = parse_header(wire)
    doc: dict[str, Any] = json.loads(wire[HEADER_BYTES : HEADER_BYTES + h.body_len])
    return doc


def _resign(wire: bytes, signer: Any, body: bytes) -> bytes:
    h = parse_header(wire)
    header = pack_header(h.msg_type, h.role, h.seq, h.session_id, h.prev_hash, signer.public.raw, len(body))
    return sign_message(signer, header, body)


def _duplicate_purpose(doc: dict[str, Any]) -> bytes:
    honest = canonical_json(doc)
    marker = b'"purpose":'
    assert honest.count(marker) == 1
    return honest.replace(marker, marker + b'"exfiltrate everything",' + marker)  # first value differs


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in sorted(value, reverse=True)}
    return value


NON_CANONICAL: dict[str, Encode] = {
    "duplicated purpose": _duplicate_purpose,
    "spaces": lambda d: json.dumps(d, sort_keys=True).encode(),
    "key order": lambda d: json.dumps(_reversed(d), separators=(",", ":")).encode(),
    "trailing newline": lambda d: canonical_json(d) + b"\n",
    "raw utf-8": lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
    "escaped ascii": lambda d: canonical_json(d).replace(b'"mode"', b'"\\u006dode"'),
    "float size": lambda d: canonical_json(d).replace(b'"padded_size":16', b'"padded_size":16.0'),
    "extra member": lambda d: canonical_json({**d, "note": "hi"}),
    "extra manifest member": lambda d: canonical_json({**d, "manifest": {**d["manifest"], "x": 1}}),
}


@pytest.mark.parametrize("name", sorted(NON_CANONICAL))
def test_hello_must_be_strict_canonical_json(name: str) -> None:
    init, resp = make_parties()
    hello = init.start()
    doc = _body(hello)
    if name == "raw utf-8":
        doc["manifest"]["purpose"] = "revue conjointe, équipe abus"
    body = NON_CANONICAL[name](doc)
    assert body != canonical_json(doc)
    with pytest.raises(MalformedMessage, match=r"canonical|repeats|members"):
        resp.receive(_resign(hello, ALICE, body))
    assert resp.failed and resp._bytes_sent == 0 and resp.manifest is None


UNSAFE_PURPOSES = [
    "pay invoice \u202efdp.exe",  # right-to-left override
    "a \u2066isolate\u2069",  # bidi isolates
    "a\u200fb",  # right-to-left mark
    "a\x1b[31mred",  # terminal escape
    "a\x9bcsi",  # C1 control sequence introducer
    "one\u2028two",  # line separator
    "zero\u200bwidth",  # zero-width space (a format character)
    "bom\ufeff",
]


@pytest.mark.parametrize("purpose", UNSAFE_PURPOSES)
def test_purpose_without_control_bidi_or_escape_characters(purpose: str) -> None:
    init, resp = make_parties()
    hello = init.start()
    doc = _body(hello)
    doc["manifest"]["purpose"] = purpose
    with pytest.raises(MalformedMessage, match="purpose"):
        resp.receive(_resign(hello, ALICE, canonical_json(doc)))
    assert resp.failed and resp._bytes_sent == 0
    assert init.manifest is not None
    with pytest.raises(InvalidParameter, match="purpose"):
        dataclasses.replace(init.manifest, purpose=purpose)


def test_purpose_may_hold_other_scripts_and_punctuation() -> None:
    init, _ = make_parties()
    assert init.manifest is not None
    ok = "revue conjointe, équipe abus — 共同审查 (ticket #12) \\ 'quoted' \"x\""
    m = dataclasses.replace(init.manifest, purpose=ok)
    assert Manifest.from_dict(json.loads(canonical_json(m.to_dict()))).purpose == ok


def _refused_pair() -> tuple[Any, bytes]:
    init, resp = make_parties(policy=Policy(modes=frozenset({"cardinality"})))
    refuse = resp.receive(init.start())
    assert refuse is not None and resp.refusal_reason is not None
    return init, refuse


@pytest.mark.parametrize("name", ["spaces", "key order", "duplicated reason", "extra member"])
def test_refuse_must_be_strict_canonical_json(name: str) -> None:
    init, refuse = _refused_pair()
    doc = _body(refuse)
    body = {
        "spaces": json.dumps(doc).encode(),
        "key order": json.dumps({"zz": 1, **doc}, separators=(",", ":")).encode(),
        "duplicated reason": b'{"reason":"ok","reason":"other"}',
        "extra member": canonical_json({**doc, "zz": 1}),
    }[name]
    with pytest.raises(MalformedMessage):
        init.receive(_resign(refuse, BOB, body))
    assert init.failed


def test_accept_must_be_strict_canonical_json() -> None:
    for encode in (lambda d: json.dumps(d).encode(), lambda d: canonical_json(d).replace(b":", b": ", 1)):
        init, resp = make_parties()
        hello = init.start()
        accept = resp.receive(hello) or b""
        with pytest.raises(MalformedMessage, match="canonical"):
            init.receive(_resign(accept, BOB, encode(_body(accept))))
        assert init.failed and init._bytes_sent == len(hello)


def test_refusal_reason_is_printed_safely() -> None:
    init, refuse = _refused_pair()
    hostile = "denied\x1b]0;pwned\x07\n\u202eexe.txt\u2028next\x00"
    with pytest.raises(Refused) as caught:
        init.receive(_resign(refuse, BOB, canonical_json({"reason": hostile})))
    shown = str(caught.value)
    assert "refused the session: denied" in shown and "exe.txt" in shown
    for bad in ("\x1b", "\x07", "\n", "\u202e", "\u2028", "\x00"):
        assert bad not in shown
    reason = init.record()["outcome"]["reason"]
    assert reason is not None and all(bad not in reason for bad in ("\x1b", "\u202e", "\n"))


def test_safe_text() -> None:
    from blindmatch._text import safe_text, unsafe_characters

    assert safe_text("plain text, é 共") == "plain text, é 共"
    assert safe_text("a\u202eb\x1bc\nd") == "a\\u202eb\\x1bc\\nd"
    assert safe_text("\U000e0001tag") == "\\U000e0001tag"
    assert safe_text("x" * 50, limit=10) == "x" * 10
    assert unsafe_characters("ok") == [] and unsafe_characters("a\u2066b\x7f") == ["\u2066", "\x7f"]


def test_honest_sessions_still_complete() -> None:
    for mode in ("intersection", "mutual", "cardinality", "mutual-cardinality"):
        init, resp = make_parties(mode=mode)
        step(init, resp)
        assert init.done and resp.done and not init.failed and not resp.failed


_JSON_BITS = [
    "{", "}", "[", "]", ":", ",", "1", "1.0", "-0", "1e3", "null", "true", "NaN", '"x"', '"manifest"',
    '"ephemeral"', '"padded_size"', '"reason"', " ", "\n", "\u00e9", '"\\u202e"', '"\\ud800"',
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_JSON_BITS), max_size=40))
def test_any_signed_hello_body_is_a_remote_error_or_a_session(parts: list[str]) -> None:
    init, resp = make_parties()
    hello = init.start()
    try:
        resp.receive(_resign(hello, ALICE, "".join(parts).encode("utf-8")))
    except RemoteProtocolError:
        assert resp.failed
