"""The session channel: message framing, transcript hash, Ed25519 signatures, X25519 + HKDF key schedule
and ChaCha20-Poly1305 sealing with per-direction keys and counter nonces.

Wire message (all integers big-endian; see docs/sessions.md)::

    0   4  magic  b"BMS1"
    4   1  wire version (1)
    5   1  message type (1 hello, 2 accept, 3 refuse, 4 data, 5 query: a published-set query)
    6   1  sender role (0 initiator, 1 responder)
    7   1  reserved (0)
    8   4  sequence number (0, 1, 2, ... over the whole session)
    12 16  session id
    28 32  transcript hash before this message
    60 32  sender's Ed25519 public key
    92  4  body length
    96  *  body (canonical JSON for hello/accept/refuse; AEAD ciphertext for data)
    ..  64 Ed25519 signature over every byte before it
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import LocalProtocolError
from .errors import (
    MalformedMessage,
    OutOfOrder,
    Reflected,
    Replayed,
    TamperedMessage,
    TranscriptMismatch,
    UnsupportedVersion,
    WrongPeer,
    WrongSession,
)
from .identity import Identity

__all__ = [
    "HEADER_BYTES",
    "MAGIC",
    "ROLE_INITIATOR",
    "ROLE_RESPONDER",
    "SIGNATURE_BYTES",
    "T_ACCEPT",
    "T_DATA",
    "T_HELLO",
    "T_QUERY",
    "T_REFUSE",
    "WIRE_VERSION",
    "Header",
    "Opener",
    "Sealer",
    "Transcript",
    "check_order",
    "new_ephemeral",
    "pack_header",
    "parse_message",
    "sign_message",
    "stream_key",
    "traffic_keys",
    "x25519_shared",
]

MAGIC = b"BMS1"
WIRE_VERSION = 1
T_HELLO, T_ACCEPT, T_REFUSE, T_DATA, T_QUERY = 1, 2, 3, 4, 5
#: ``query`` (5) opens a published-set query (blindmatch.published.session) instead of an exchange.
TYPE_NAMES = {T_HELLO: "hello", T_ACCEPT: "accept", T_REFUSE: "refuse", T_DATA: "data", T_QUERY: "query"}
ROLE_INITIATOR, ROLE_RESPONDER = 0, 1
_HEADER = struct.Struct(">4sBBBBI16s32s32sI")
HEADER_BYTES = _HEADER.size
SIGNATURE_BYTES = 64
_TRANSCRIPT_LABEL = b"blindmatch-session/1 transcript"
_KEYS_INFO = b"blindmatch-session/1 traffic keys i2r r2i"
_STREAM_INFO = b"blindmatch-session/1 stream key"
_SIG_CONTEXT = b"blindmatch-session/1 message\x00"
TAG_BYTES = 16


@dataclass(frozen=True)
class Header:
    """The fixed header of a wire message (the ``raw`` bytes are the AEAD associated data)."""

    msg_type: int
    role: int
    seq: int
    session_id: bytes
    prev_hash: bytes
    sender_key: bytes
    body_len: int
    raw: bytes


@dataclass(frozen=True)
class Message:
    header: Header
    body: bytes
    signature: bytes
    signed: bytes
    wire: bytes


def signed_bytes(header_and_body: bytes) -> bytes:
    """What an Ed25519 signature covers: a context label, then the header and body."""
    return _SIG_CONTEXT + header_and_body


def pack_header(
    msg_type: int, role: int, seq: int, session_id: bytes, prev_hash: bytes, sender_key: bytes, body_len: int
) -> bytes:
    return _HEADER.pack(
        MAGIC, WIRE_VERSION, msg_type, role, 0, seq, session_id, prev_hash, sender_key, body_len
    )


def sign_message(identity: Identity, header: bytes, body: bytes) -> bytes:
    """``header || body || signature``."""
    unsigned = header + body
    return unsigned + identity.sign(signed_bytes(unsigned))


def parse_header(data: bytes) -> Header:
    """Parse and check the framing of ``data`` (not the signature). Raises ``MalformedMessage``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessage("a session message is bytes")
    if len(data) < HEADER_BYTES + SIGNATURE_BYTES:
        raise MalformedMessage(f"session message truncated ({len(data)} bytes)")
    magic, version, msg_type, role, reserved, seq, sid, prev, key, body_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MalformedMessage("not a blindmatch session message (bad magic)")
    if version != WIRE_VERSION:
        raise UnsupportedVersion(f"unsupported session wire version {version}")
    if msg_type not in TYPE_NAMES:
        raise MalformedMessage(f"unknown session message type {msg_type}")
    if role not in (ROLE_INITIATOR, ROLE_RESPONDER) or reserved != 0:
        raise MalformedMessage("bad role or reserved byte")
    if body_len != len(data) - HEADER_BYTES - SIGNATURE_BYTES:
        raise MalformedMessage("session message length does not match its header")
    return Header(
        msg_type, role, seq, bytes(sid), bytes(prev), bytes(key), body_len, bytes(data[:HEADER_BYTES])
    )


def split_message(data: bytes, header: Header) -> Message:
    end = HEADER_BYTES + header.body_len
    data = bytes(data)
    return Message(header, data[HEADER_BYTES:end], data[end:], data[:end], data)


def parse_message(data: bytes) -> Message:
    """Framing check and split (no signature check)."""
    return split_message(data, parse_header(data))


class Transcript:
    """Running hash of every wire message of a session, in order: ``T' = SHA-256(T || len || message)``."""

    __slots__ = ("_hash",)

    def __init__(self) -> None:
        self._hash = hashlib.sha256(_TRANSCRIPT_LABEL).digest()

    @property
    def hash(self) -> bytes:
        return self._hash

    def add(self, wire: bytes) -> None:
        h = hashlib.sha256(self._hash)
        h.update(len(wire).to_bytes(8, "big"))
        h.update(wire)
        self._hash = h.digest()


def new_ephemeral(seed: bytes) -> tuple[X25519PrivateKey, bytes]:
    """An ephemeral X25519 key from 32 random bytes, and its public key."""
    if len(seed) != 32:
        raise LocalProtocolError("rng must return the number of bytes asked for")
    priv = X25519PrivateKey.from_private_bytes(seed)
    return priv, priv.public_key().public_bytes_raw()


def x25519_shared(priv: X25519PrivateKey, peer_public: bytes) -> bytes:
    """The ephemeral X25519 secret; a small-order peer key (all-zero secret) raises ``MalformedMessage``."""
    try:
        return priv.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        raise MalformedMessage("the peer's ephemeral key is a small-order point") from None


def traffic_keys(shared: bytes, transcript_hash: bytes) -> tuple[bytes, bytes]:
    """``(initiator->responder key, responder->initiator key)`` from the ephemeral X25519 secret.

    HKDF-SHA256 with the transcript hash after the accept as salt, so the keys are bound to both signed
    handshake messages.
    """
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=transcript_hash, info=_KEYS_INFO).derive(shared)
    return okm[:32], okm[32:]


def stream_key(shared: bytes, transcript_hash: bytes) -> bytes:
    """The 32-byte session key of a streaming exchange (``blindmatch.streaming``) after the handshake.

    HKDF-SHA256 as for :func:`traffic_keys` (same secret, same salt) with its own label
    ``"blindmatch-session/1 stream key"``: domain-separated from the traffic keys (docs/sessions.md).
    """
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=transcript_hash, info=_STREAM_INFO).derive(shared)


def _nonce(counter: int) -> bytes:
    return b"\x00\x00\x00\x00" + counter.to_bytes(8, "big")


class Sealer:
    """Encrypts one direction's payloads; the nonce is the message counter of that direction."""

    __slots__ = ("_aead", "_counter")

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0

    def seal(self, header: bytes, plaintext: bytes) -> bytes:
        ct = self._aead.encrypt(_nonce(self._counter), plaintext, header)
        self._counter += 1
        return ct


class Opener:
    """Decrypts the other direction's payloads in order; a bad tag raises ``TamperedMessage``."""

    __slots__ = ("_aead", "_counter")

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0

    def open(self, header: bytes, ciphertext: bytes) -> bytes:
        try:
            pt = self._aead.decrypt(_nonce(self._counter), ciphertext, header)
        except InvalidTag:
            raise TamperedMessage("payload authentication failed (tampered or wrong keys)") from None
        self._counter += 1
        return pt


def check_order(
    header: Header,
    *,
    role: int,
    session_id: bytes | None,
    peer_key: bytes | None,
    count: int,
    expected: Sequence[int],
    transcript_hash: bytes,
) -> None:
    """What every session party checks of an incoming header before its body (exchange and query sessions
    alike): not sent by our own role, this session and peer, the next message number, an expected type,
    and bound to our transcript so far."""
    if header.role == role:
        own = ("initiator", "responder")[role]
        raise Reflected(f"got a {TYPE_NAMES[header.msg_type]} message sent by our own role ({own})")
    if session_id is not None and header.session_id != session_id:
        raise WrongSession("the message belongs to another session (session id differs)")
    if peer_key is not None and header.sender_key != peer_key:
        raise WrongPeer("the message is signed by another identity than this session's peer")
    if header.seq < count:
        raise Replayed(f"message number {header.seq} was already received (replay)")
    if header.seq > count or header.msg_type not in expected:
        raise OutOfOrder(
            f"expected message number {count} ({' or '.join(TYPE_NAMES[t] for t in expected)}), got number "
            f"{header.seq} ({TYPE_NAMES[header.msg_type]})"
        )
    if header.prev_hash != transcript_hash:
        raise TranscriptMismatch("the message is bound to another transcript (replayed from another run)")
