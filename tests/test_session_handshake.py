"""Handshake bodies from a trusted but broken peer, version checks, and pinned bytes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from session_support import ALICE, BOB, make_parties, step

from blindmatch.errors import CapacityError, InvalidParameter, LocalProtocolError
from blindmatch.session import MalformedMessage, UnsupportedVersion
from blindmatch.session._canonjson import canonical_json
from blindmatch.session.channel import HEADER_BYTES, pack_header, parse_header, sign_message


def _rebody(wire: bytes, signer: Any, edit: Callable[[dict[str, Any]], Any]) -> bytes:
    h = parse_header(wire)
    doc = json.loads(wire[HEADER_BYTES : HEADER_BYTES + h.body_len])
    edit(doc)
    body = canonical_json(doc)  # honest encoding: only the edit can be refused
    header = pack_header(h.msg_type, h.role, h.seq, h.session_id, h.prev_hash, signer.public.raw, len(body))
    return sign_message(signer, header, body)


HELLO_EDITS: list[tuple[Callable[[dict[str, Any]], Any], type[Exception]]] = [
    (lambda d: d.pop("manifest"), MalformedMessage),
    (lambda d: d.update(manifest=[]), MalformedMessage),
    (lambda d: d["manifest"].pop("mode"), MalformedMessage),
    (lambda d: d["manifest"].update(mode="everything"), MalformedMessage),
    (lambda d: d["manifest"].update(kinds=["z", "a"]), MalformedMessage),
    (lambda d: d["manifest"].update(kinds=[]), MalformedMessage),
    (lambda d: d["manifest"].update(purpose="a\nb"), MalformedMessage),
    (lambda d: d["manifest"]["max_items"].update(initiator=0), MalformedMessage),
    (lambda d: d["manifest"]["max_items"].update(initiator=True), MalformedMessage),
    (lambda d: d["manifest"]["validity"].update(not_after=0), MalformedMessage),
    (lambda d: d["manifest"].update(session_id="00"), MalformedMessage),
    (lambda d: d["manifest"].update(session_id="ab" * 16), MalformedMessage),  # differs from the header's
    (lambda d: d["manifest"].update(protocol="blindmatch-session/1"), UnsupportedVersion),
    (lambda d: d["manifest"].update(protocol="blindmatch-session/3"), UnsupportedVersion),
    (lambda d: d["manifest"].update(psi_suite="other"), UnsupportedVersion),
    (lambda d: d.update(ephemeral="zz" * 32), MalformedMessage),
    (lambda d: d.update(ephemeral="00" * 32), MalformedMessage),  # small-order point
    (lambda d: d.update(ephemeral=None), MalformedMessage),
    (lambda d: d.update(padded_size=-1), MalformedMessage),
    (lambda d: d.update(padded_size="16"), MalformedMessage),
]


@pytest.mark.parametrize(("edit", "error"), HELLO_EDITS)
def test_broken_hello_from_a_trusted_peer(
    edit: Callable[[dict[str, Any]], Any], error: type[Exception]
) -> None:
    init, resp = make_parties()
    bad = _rebody(init.start(), ALICE, edit)
    with pytest.raises(error):
        resp.receive(bad)
    assert resp.failed and resp._bytes_sent == 0


def test_non_json_hello() -> None:
    init, resp = make_parties()
    h = parse_header(init.start())
    for body in (b"\xff\xfe", b"[1]", b"[" * 5000):
        header = pack_header(
            h.msg_type, h.role, h.seq, h.session_id, h.prev_hash, ALICE.public.raw, len(body)
        )
        _, r2 = make_parties()
        with pytest.raises(MalformedMessage):
            r2.receive(sign_message(ALICE, header, body))
    assert not resp.failed


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(ephemeral="00" * 32),
        lambda d: d.update(padded_size=None),
        lambda d: d.pop("ephemeral"),
    ],
)
def test_broken_accept(edit: Callable[[dict[str, Any]], Any]) -> None:
    init, resp = make_parties()
    hello = init.start()
    accept = resp.receive(hello) or b""
    with pytest.raises(MalformedMessage):
        init.receive(_rebody(accept, BOB, edit))
    assert init.failed and init._bytes_sent == len(hello)  # the request was never sent


def test_wire_version_is_checked() -> None:
    init, resp = make_parties()
    hello = bytearray(init.start())
    hello[4] = 2
    with pytest.raises(UnsupportedVersion):
        resp.receive(bytes(hello))


def test_same_seeds_same_bytes_and_pinned_hello() -> None:
    w1 = step(*make_parties(mode="mutual"))
    w2 = step(*make_parties(mode="mutual"))
    assert w1 == w2
    # the pinned hello: fixed keys, seeds and clock; the library version pinned so releases keep it valid
    init, _ = make_parties(mode="mutual")
    assert init.manifest is not None
    pinned = dataclasses.replace(init.manifest, library_version="0.1.0")
    init2, _ = make_parties(mode="mutual", manifest=pinned)
    assert hashlib.sha256(init2.start()).hexdigest() == PINNED_HELLO_SHA256


# Regenerated when the ephemeral key became derived from the party's seed (docs/sessions.md, "Seeded
# randomness"): header, manifest and padded size are unchanged, only "ephemeral" (seeded bytes) differs;
# and again when the manifest's session id became the initiator's first derivation from its one seed (the
# seed is now drawn first): the session id and the ephemeral key differ, the layout does not; and for
# session protocol 2, whose manifest names "blindmatch-session/2" and its canon version, and whose hello
# holds a commitment.
PINNED_HELLO_SHA256 = "64cb32dc585703af0d9cf0ca2a7e7c384920c0dab91f547347d1458b1f32300e"


def test_local_misuse() -> None:
    init, _ = make_parties()
    with pytest.raises(LocalProtocolError):
        init.receive(b"x")  # before start()
    init.start()
    with pytest.raises(LocalProtocolError):
        init.start()
    with pytest.raises(CapacityError):
        make_parties(a_items={"email": [f"a{i}" for i in range(100)]}, max_items=10)  # over our own cap
    with pytest.raises(InvalidParameter):
        make_parties(kinds=["ip"])  # items of a kind outside the manifest
    with pytest.raises(InvalidParameter):
        canonical_json({"x": 1.5})
