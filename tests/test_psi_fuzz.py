"""Hostile and malformed PSI messages: only RemoteProtocolError subclasses, never another exception."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psi_util import drbg, items

from blindmatch.errors import RemoteProtocolError
from blindmatch.hazmat import FIELD_P, SMALL_ORDER_ENCODINGS
from blindmatch.psi import (
    MODES,
    Initiator,
    InvalidGroupElement,
    MalformedMessage,
    PeerTooLarge,
    Responder,
    UnexpectedMessage,
)
from blindmatch.psi._wire import _HEADER_LEN

A = items([1, 2, 3])
B = items([2, 3, 4, 5])
H = _HEADER_LEN


def fresh_initiator(mode: str = "mutual") -> Initiator:
    return Initiator(A, mode, rng=drbg("init"))  # type: ignore[arg-type]


def fresh_responder() -> Responder:
    return Responder(B, rng=drbg("resp"))


def transcript(mode: str = "mutual") -> tuple[bytes, bytes, bytes | None]:
    init, resp = fresh_initiator(mode), fresh_responder()
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    return m1, m2, m3


def feed(which: int, data: bytes, mode: str = "mutual") -> object:
    """Deliver ``data`` as message ``which`` (1, 2 or 3) to a fresh party in the right state."""
    if which == 1:
        return fresh_responder().respond(data)
    init = fresh_initiator(mode)
    m1 = init.start()
    if which == 2:
        return init.finish(data)
    resp = fresh_responder()
    resp.respond(m1)
    resp.finish(data)
    return resp.result


def expect_remote(which: int, data: bytes, mode: str = "mutual") -> None:
    with pytest.raises(RemoteProtocolError):
        feed(which, data, mode)


MSGS = transcript("mutual")


@pytest.mark.parametrize("which", [1, 2, 3])
def test_every_truncation(which: int) -> None:
    msg = MSGS[which - 1]
    assert msg is not None
    for cut in range(len(msg)):
        expect_remote(which, msg[:cut])
    feed(which, msg)  # the whole message is fine


@pytest.mark.parametrize("which", [1, 2, 3])
def test_trailing_bytes(which: int) -> None:
    msg = MSGS[which - 1]
    assert msg is not None
    for extra in (b"\x00", b"x" * 16, b"y" * 32):
        expect_remote(which, msg + extra)


@pytest.mark.parametrize("which", [1, 2, 3])
def test_header_bit_flips(which: int) -> None:
    """Every header bit flipped (magic, version, type, mode, flags, suite, session id) is rejected."""
    msg = MSGS[which - 1]
    assert msg is not None
    for i in range(H):
        for bit in (0x01, 0x80):
            bad = msg[:i] + bytes([msg[i] ^ bit]) + msg[i + 1 :]
            if which == 1 and (H - 16 <= i < H or i == 6):
                continue  # the session id and mode of a request are the initiator's free choice
            expect_remote(which, bad)


@pytest.mark.parametrize("which", [1, 2, 3])
def test_payload_bit_flips_never_crash(which: int) -> None:
    """A flipped payload bit either raises the remote error or (element/hash changed) only loses matches."""
    msg = MSGS[which - 1]
    assert msg is not None
    for i in range(H, len(msg)):
        for bit in (0x01, 0x80):
            bad = msg[:i] + bytes([msg[i] ^ bit]) + msg[i + 1 :]
            try:
                res = feed(which, bad)
            except RemoteProtocolError:
                continue
            if which == 2:
                assert res is not None  # mutual: the confirm
            elif which == 3:
                r = res
                assert r.count is not None and r.count <= 2  # type: ignore[attr-defined]


def test_wrong_message_types() -> None:
    m1, m2, m3 = MSGS
    assert m3 is not None
    for which, data in [(1, m2), (1, m3), (2, m1), (2, m3), (3, m1), (3, m2)]:
        with pytest.raises(UnexpectedMessage):
            feed(which, data)


def test_swapped_mode_and_session() -> None:
    m1, m2, m3 = MSGS
    assert m3 is not None
    other = transcript("mutual")  # same rng seeds -> same session id; build a truly different one
    init = Initiator(A, "mutual")
    resp = Responder(B)
    o1 = init.start()
    o2 = resp.respond(o1)
    o3 = init.finish(o2)
    assert o3 is not None and other[0] == m1
    with pytest.raises(UnexpectedMessage):
        feed(2, o2)  # a response of another session
    with pytest.raises(UnexpectedMessage):
        feed(3, o3)
    # change the mode byte to another valid mode
    for which, msg in ((2, m2), (3, m3)):
        for code in (1, 3, 4):
            with pytest.raises(UnexpectedMessage, match="mode"):
                feed(which, msg[:6] + bytes([code]) + msg[7:])


def test_duplicated_lists() -> None:
    m1, m2, _ = MSGS
    n_a = struct.unpack_from(">I", m1, H)[0]
    dup1 = m1[:H] + struct.pack(">I", 2 * n_a) + m1[H + 4 :] * 2
    with pytest.raises(InvalidGroupElement, match="duplicated"):
        feed(1, dup1)
    one = m1[H + 4 : H + 36]
    with pytest.raises(InvalidGroupElement, match="duplicated"):
        feed(1, m1[:H] + struct.pack(">I", n_a) + one * n_a)
    # response: B's elements duplicated
    n_b = struct.unpack_from(">I", m2, H + 4)[0]
    elems = m2[H + 8 : H + 8 + 32 * n_b]
    hashes = m2[H + 8 + 32 * n_b :]
    dup2 = m2[:H] + struct.pack(">II", n_a, 2 * n_b) + elems * 2 + hashes
    with pytest.raises(InvalidGroupElement, match="duplicated"):
        feed(2, dup2)
    # response: duplicated comparison hashes
    with pytest.raises(InvalidGroupElement, match="duplicated"):
        feed(2, m2[: H + 8] + elems + hashes[:16] * n_a)


def _with_element(msg: bytes, off: int, elem: bytes) -> bytes:
    return msg[:off] + elem + msg[off + 32 :]


def _bad_elements() -> list[bytes]:
    bad = sorted(SMALL_ORDER_ENCODINGS)
    bad += [(u % (1 << 256)).to_bytes(32, "little") for u in (FIELD_P, FIELD_P + 1, FIELD_P + 9, 2**255 - 1)]
    bad += [(9 | (1 << 255)).to_bytes(32, "little")]  # top bit set
    return bad


@pytest.mark.parametrize("elem", _bad_elements(), ids=lambda e: e.hex()[:8] + e.hex()[-4:])
def test_small_order_and_non_canonical_elements(elem: bytes) -> None:
    m1, m2, _ = MSGS
    with pytest.raises(InvalidGroupElement):
        feed(1, _with_element(m1, H + 4 + 32, elem))
    with pytest.raises(InvalidGroupElement):
        feed(2, _with_element(m2, H + 8, elem))


def test_caps_checked_before_work() -> None:
    m1, m2, _ = MSGS
    with pytest.raises(PeerTooLarge):
        Responder(B, max_peer_items=2).respond(m1)
    init = Initiator(A, "mutual", max_peer_items=3)
    init.start()
    with pytest.raises(PeerTooLarge):
        init.finish(m2)
    # a huge claimed count with no payload: rejected from the header alone
    huge = m1[:H] + struct.pack(">I", 2**32 - 1)
    with pytest.raises(PeerTooLarge):
        fresh_responder().respond(huge)
    with pytest.raises(MalformedMessage, match="truncated"):
        Responder(B, max_peer_items=2**32 - 1).respond(huge)
    with pytest.raises(UnexpectedMessage, match="answers"):
        feed(2, m2[:H] + struct.pack(">I", 1000) + m2[H + 4 :])


def test_non_bytes_message() -> None:
    with pytest.raises(MalformedMessage):
        fresh_responder().respond("text")  # type: ignore[arg-type]
    assert isinstance(fresh_responder().respond(bytearray(MSGS[0])), bytes)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=300), which=st.sampled_from([1, 2, 3]))
def test_random_bytes(mode: str, data: bytes, which: int) -> None:
    if which == 3 and mode not in ("mutual", "mutual-cardinality"):
        which = 2
    expect_remote(which, data, mode)


@settings(max_examples=100, deadline=None)
@given(
    which=st.sampled_from([1, 2, 3]), pos=st.integers(min_value=0), junk=st.binary(min_size=1, max_size=40)
)
def test_random_splices(which: int, pos: int, junk: bytes) -> None:
    """Bytes overwritten or inserted anywhere: a remote error, or a result (payload changes only)."""
    msg = MSGS[which - 1]
    assert msg is not None
    pos %= len(msg)
    for bad in (msg[:pos] + junk + msg[pos + len(junk) :], msg[:pos] + junk + msg[pos:]):
        if bad == msg:
            continue
        with contextlib.suppress(RemoteProtocolError):
            feed(which, bad)


def test_buffer_types() -> None:
    import array

    m1 = MSGS[0]
    assert isinstance(fresh_responder().respond(memoryview(m1)), bytes)  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage):
        fresh_responder().respond(memoryview(array.array("i", [1, 2, 3]))[::2])  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage):
        fresh_responder().respond(None)  # type: ignore[arg-type]
