"""Every attack on a session gives its own remote error, and the attacked party then sends nothing more."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from session_support import ALICE, CAROL, Clock, make_parties, step, trust

from blindmatch.errors import CapacityError, LocalProtocolError, RemoteProtocolError
from blindmatch.psi import Responder, indicator_item
from blindmatch.session import (
    BadSignature,
    CapExceeded,
    Expired,
    InitiatorSession,
    MalformedMessage,
    OutOfOrder,
    PaddingViolation,
    Policy,
    Reflected,
    Refused,
    Replayed,
    ResponderSession,
    SessionError,
    TamperedMessage,
    TranscriptMismatch,
    UnknownPeer,
    WrongPeer,
    WrongSession,
)
from blindmatch.session.channel import HEADER_BYTES, SIGNATURE_BYTES, pack_header, parse_header, sign_message

Party = InitiatorSession | ResponderSession


def tamper(party: Party, **changes: Any) -> None:
    """Play a dishonest party: change fields of its current phase's (immutable) working data."""
    party._work = dataclasses.replace(party._work, **changes)  # type: ignore[arg-type, type-var]


def produce(init: InitiatorSession, resp: ResponderSession, upto: int) -> list[bytes]:
    """Honest run until message number ``upto`` exists but is not delivered yet."""
    wire = [init.start()]
    receivers: list[Party] = [resp, init]
    for k in range(upto):
        out = receivers[k % 2].receive(wire[k])
        assert out is not None
        wire.append(out)
    return wire


def receiver_of(init: InitiatorSession, resp: ResponderSession, k: int) -> Party:
    return resp if k % 2 == 0 else init


def attack(party: Party, data: bytes, error: type[BaseException]) -> BaseException:
    """Deliver ``data``; check the specific error, that nothing was sent, and that the party is dead."""
    sent_before = party._bytes_sent
    with pytest.raises(error) as info:
        party.receive(data)
    assert party.done and party.failed and party.result is None
    assert party._bytes_sent == sent_before
    assert party._work is None  # no key, PSI party or own set left to send anything with
    with pytest.raises(LocalProtocolError):
        party.receive(data)
    rec = party.record()
    assert rec["outcome"]["status"] in ("failed", "refused")
    assert rec["outcome"]["error"] == type(info.value).__name__
    assert rec["wire_bytes"]["sent"] == sent_before
    return info.value


def flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


def resign(data: bytes, signer, **changes: object) -> bytes:  # type: ignore[no-untyped-def]
    """Re-frame a message with changed header fields and a valid signature by ``signer``."""
    h = parse_header(data)
    body = changes.pop("body", data[HEADER_BYTES : HEADER_BYTES + h.body_len])
    fields = {
        "msg_type": h.msg_type,
        "role": h.role,
        "seq": h.seq,
        "session_id": h.session_id,
        "prev_hash": h.prev_hash,
        "sender_key": signer.public.raw,
    }
    fields.update(changes)
    header = pack_header(**fields, body_len=len(body))  # type: ignore[arg-type]
    return sign_message(signer, header, body)  # type: ignore[arg-type]


# -- a tampered byte ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(5))
@pytest.mark.parametrize("where", ["body", "signature"])
def test_tampered_byte_is_bad_signature(k: int, where: str) -> None:
    init, resp = make_parties(mode="mutual")
    wire = produce(init, resp, k)
    msg = wire[k]
    pos = (HEADER_BYTES + len(msg) - SIGNATURE_BYTES) // 2 if where == "body" else len(msg) - 10
    err = attack(receiver_of(init, resp, k), flip(msg, pos), BadSignature)
    assert isinstance(err, TamperedMessage)


def test_validly_signed_but_undecryptable_payload_is_tampered() -> None:
    init, resp = make_parties()
    wire = produce(init, resp, 2)
    h = parse_header(wire[2])
    body = bytearray(wire[2][HEADER_BYTES : HEADER_BYTES + h.body_len])
    body[5] ^= 0xFF
    forged = resign(wire[2], ALICE, body=bytes(body))  # the signer itself sends a bad ciphertext
    err = attack(resp, forged, TamperedMessage)
    assert not isinstance(err, BadSignature)


@pytest.mark.parametrize("k", range(5))
def test_every_single_byte_flip_is_a_session_error(k: int) -> None:
    init, resp = make_parties(mode="mutual", a_items={"email": ["a@b.org"]}, b_items={"email": ["a@b.org"]})
    wire = produce(init, resp, k)
    msg = wire[k]
    step_ = max(1, len(msg) // 97)
    for pos in list(range(0, HEADER_BYTES)) + list(range(HEADER_BYTES, len(msg), step_)):
        i2, r2 = make_parties(mode="mutual", a_items={"email": ["a@b.org"]}, b_items={"email": ["a@b.org"]})
        produce(i2, r2, k)
        party = receiver_of(i2, r2, k)
        sent = party._bytes_sent
        with pytest.raises(SessionError):
            party.receive(flip(msg, pos))
        assert party.failed and party._bytes_sent == sent


@pytest.mark.parametrize("k", range(5))
def test_truncations_are_malformed(k: int) -> None:
    init, resp = make_parties(mode="mutual")
    wire = produce(init, resp, k)
    for cut in (0, 1, 4, HEADER_BYTES, HEADER_BYTES + SIGNATURE_BYTES - 1, len(wire[k]) - 1):
        i2, r2 = make_parties(mode="mutual")
        produce(i2, r2, k)
        attack(receiver_of(i2, r2, k), wire[k][:cut], MalformedMessage)


# -- replays -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_message_from_another_session_is_wrong_session(k: int) -> None:
    other = produce(*make_parties(mode="mutual", seed=b"other"), 4)
    init, resp = make_parties(mode="mutual")
    produce(init, resp, k)
    attack(receiver_of(init, resp, k), other[k], WrongSession)


def test_replayed_hello_is_rejected_by_the_seen_cache() -> None:
    seen: set[bytes] = set()
    init, resp = make_parties()
    resp._seen = seen
    hello = init.start()
    assert resp.receive(hello) is not None
    _, resp2 = make_parties()
    resp2._seen = seen
    attack(resp2, hello, Replayed)


def test_replayed_initiator_side_gets_no_data_from_a_fresh_responder() -> None:
    init, resp = make_parties()
    wire = step(init, resp)
    _, fresh = make_parties(seed=b"fresh")
    accept = fresh.receive(wire[0])  # the old hello is still valid: an accept (no set data) comes back
    assert accept is not None and not fresh._own_set_sent
    attack(fresh, wire[2], TranscriptMismatch)  # the old request is bound to the old accept
    assert not fresh.record()["own_set_sent"]


def test_duplicate_message_is_replayed() -> None:
    init, resp = make_parties(mode="mutual")
    wire = produce(init, resp, 4)
    attack(resp, wire[2], Replayed)  # the request again, instead of the confirm


# -- reordering and reflection ------------------------------------------------------------------------------
def test_message_ahead_of_its_turn_is_out_of_order() -> None:
    wire = produce(*make_parties(mode="mutual"), 4)
    _, fresh = make_parties(mode="mutual")
    attack(fresh, wire[2], OutOfOrder)  # the request before the hello


def test_skipped_message_is_out_of_order() -> None:
    init, resp = make_parties(mode="mutual")
    wire = produce(init, resp, 2)
    forged = resign(wire[2], ALICE, seq=4)
    attack(resp, forged, OutOfOrder)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_own_message_reflected_back(k: int) -> None:
    init, resp = make_parties(mode="mutual")
    wire = produce(init, resp, k + 1)
    sender = init if k % 2 == 0 else resp
    attack(sender, wire[k], Reflected)


# -- identities --------------------------------------------------------------------------------------------
def test_unknown_initiator_key() -> None:
    init, resp = make_parties(peers=trust(("carol", CAROL)))
    attack(resp, init.start(), UnknownPeer)


def test_hello_addressed_to_another_responder() -> None:
    init, resp = make_parties(addressed_to=CAROL)
    attack(resp, init.start(), WrongPeer)


@pytest.mark.parametrize("k", [1, 3])
def test_reply_signed_by_another_identity(k: int) -> None:
    init, resp = make_parties()
    wire = produce(init, resp, k)
    attack(init, resign(wire[k], CAROL), WrongPeer)


# -- time --------------------------------------------------------------------------------------------------
def test_expired_manifest() -> None:
    clock = Clock()
    init, resp = make_parties(clock=clock, validity_s=600)
    hello = init.start()
    clock.now += 600 + Policy().clock_skew_s + 1
    attack(resp, hello, Expired)


def test_manifest_not_yet_valid() -> None:
    clock_i, clock_r = Clock(), Clock()
    init, _ = make_parties(clock=clock_i)
    _, resp = make_parties(clock=clock_r)
    hello = init.start()
    clock_r.now -= Policy().clock_skew_s + 10
    attack(resp, hello, Expired)


def test_session_running_past_its_window_fails_for_the_initiator() -> None:
    clock = Clock()
    init, resp = make_parties(clock=clock, validity_s=600)
    wire = produce(init, resp, 3)
    clock.now += 601
    attack(init, wire[3], Expired)


# -- policy refusal ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (Policy(modes=frozenset({"cardinality"})), "mode"),
        (Policy(allowed_peers=frozenset({"dave"})), "not allowed"),
        (Policy(kinds=frozenset({"ip"})), "kinds"),
        (Policy(max_items_initiator=8), "initiator cap"),
        (Policy(paddings=("cap",), max_items_responder=32), "pad our set with 'cap'"),
        (Policy(max_validity_s=60), "validity"),
    ],
)
def test_refusal_reaches_the_initiator_signed(policy: Policy, words: str) -> None:
    init, resp = make_parties(policy=policy)
    refusal = resp.receive(init.start())
    assert refusal is not None and resp.done and not resp.failed and resp.result is None
    assert resp.record()["outcome"]["status"] == "refused"
    err = attack(init, refusal, Refused)
    assert isinstance(err, Refused) and words in err.reason
    assert init.record()["outcome"]["status"] == "refused"
    assert not init.record()["own_set_sent"] and not resp.record()["own_set_sent"]


def test_own_set_over_own_cap_is_a_local_error_before_anything_is_sent() -> None:
    with pytest.raises(CapacityError, match="own cap"):
        make_parties(b_items={"email": [f"x{i}@y.org" for i in range(100)]}, max_items=64)


def _decision(own: int, proposed: int, padding: str) -> str | None:
    """The responder's answer (refusal reason or None) to a proposed responder cap, for a set of ``own``."""
    policy = Policy(max_items_responder=48)
    init, resp = make_parties(b_items={"email": [f"x{i}@y.org" for i in range(own)]}, policy=policy,
                              max_items=(64, proposed), padding=padding)  # fmt: skip
    resp.receive(init.start())
    return resp.refusal_reason


@pytest.mark.parametrize("padding", ["cap", "pow2"])
def test_refusal_never_depends_on_the_real_set_size(padding: str) -> None:
    # An initiator varying the proposed responder cap must not be able to binary-search our size.
    for proposed in (1, 2, 3, 5, 8, 20, 47, 48, 49, 64):
        answers = {_decision(own, proposed, padding) for own in (0, 3, 30, 48)}
        assert len(answers) == 1, (proposed, answers)
        (answer,) = answers
        accepted = proposed == 48 or (padding == "pow2" and proposed > 48)
        assert (answer is None) == accepted, (proposed, answer)
        if answer is not None:
            assert "48" in answer  # the reason names only our public cap


def test_forged_refusal_is_bad_signature() -> None:
    init, resp = make_parties(policy=Policy(modes=frozenset({"cardinality"})))
    refusal = resp.receive(init.start()) or b""
    attack(init, flip(refusal, len(refusal) - 70), BadSignature)


# -- caps and padding --------------------------------------------------------------------------------------
def test_declared_size_over_the_cap() -> None:
    init, resp = make_parties(padding="none", max_items=16)
    tamper(init, own_padded=17)
    attack(resp, init.start(), CapExceeded)


def test_declared_size_breaking_the_padding_rule() -> None:
    init, resp = make_parties(padding="pow2", max_items=64)
    tamper(init, own_padded=12)
    attack(resp, init.start(), PaddingViolation)


class _NoCrypto:
    """Stands in for the PSI party: any call means work was done on the oversized list."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"PSI {name} reached with an oversized list")


@pytest.mark.parametrize("extra", [1, 200])
def test_list_larger_than_declared_is_rejected_before_any_crypto(extra: int) -> None:
    init, resp = make_parties(padding="none", max_items=1024)
    accept = resp.receive(init.start()) or b""
    more = init._work.items + [hashlib.sha256(bytes([i])).digest() for i in range(extra)]
    tamper(init, items=more, padded=more)
    request = init.receive(accept) or b""
    tamper(resp, psi=_NoCrypto())
    attack(resp, request, CapExceeded)


def test_list_smaller_than_declared() -> None:
    init, resp = make_parties(padding="none", max_items=1024)
    accept = resp.receive(init.start()) or b""
    items = init._work.items[:-1]
    tamper(init, items=items, padded=items, own_padded=len(items))  # one item fewer than the hello declared
    attack(resp, init.receive(accept) or b"", PaddingViolation)


def test_responder_list_larger_than_declared() -> None:
    init, resp = make_parties(padding="none", max_items=1024)
    accept = resp.receive(init.start()) or b""
    request = init.receive(accept) or b""
    # a responder that sends more items than it declared in its accept
    own = [indicator_item("email", f"user{i}@example.org") for i in range(5, 20)]  # make_parties' default
    extra = Responder([*own, b"extra-1", b"extra-2"], allowed_modes=("intersection",), max_peer_items=1024)
    tamper(resp, psi=extra)
    attack(init, resp.receive(request) or b"", CapExceeded)


# -- the remote error family --------------------------------------------------------------------------------
def test_all_session_errors_are_remote_protocol_errors() -> None:
    for cls in (
        BadSignature,
        CapExceeded,
        Expired,
        OutOfOrder,
        PaddingViolation,
        Reflected,
        Refused,
        Replayed,
        TamperedMessage,
        TranscriptMismatch,
        UnknownPeer,
        WrongPeer,
        WrongSession,
    ):
        assert issubclass(cls, RemoteProtocolError)


def test_garbage_and_wrong_types() -> None:
    init, resp = make_parties()
    with pytest.raises(TypeError):
        resp.receive("hello")  # type: ignore[arg-type]
    attack(resp, b"\x00" * 300, MalformedMessage)
    _, resp2 = make_parties()
    hello = init.start()
    attack(resp2, b"XXXX" + hello[4:], MalformedMessage)
