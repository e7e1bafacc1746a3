"""Chunk framing of the streaming exchange: cleartext header, ChaCha20-Poly1305 body, transcript.

See ``docs/streaming.md``, "Chunk framing", for the byte layout; this module is its only implementation.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import InvalidParameter
from ..session.identity import PublicIdentity
from ._errors import ChunkAuthError, MalformedChunk, UnexpectedChunk

__all__ = [
    "DIR_I2R",
    "DIR_R2I",
    "HEADER",
    "STREAM_ID",
    "TAG_BYTES",
    "Frame",
    "FrameCodec",
    "Transcript",
    "chunk_count",
    "chunk_elements",
    "signed_payload",
]

STREAM_ID = b"blindmatch-stream-v1/x25519-ell2ro-sha512"
MAGIC = b"BMSC"
VERSION = 1
DIR_I2R = 1
DIR_R2I = 2
FLAG_FINAL = 1
TAG_BYTES = 16
SESSION_ID_BYTES = 16
SESSION_KEY_BYTES = 32
#: magic, version, direction, type, mode, flags, session id, index, count, total
HEADER = struct.Struct(">4sBBBBB16sIII")
_MAX_U32 = (1 << 32) - 1


def chunk_count(total: int, frame: int) -> int:
    """Number of chunks of a message of ``total`` elements: ``max(1, ceil(total / frame))``."""
    return max(1, -(-total // frame))


def chunk_elements(total: int, frame: int, index: int) -> int:
    """Elements in chunk ``index`` of a message of ``total`` elements."""
    return max(0, min(frame, total - index * frame))


@dataclass(frozen=True)
class Frame:
    """One opened chunk: its header fields, the raw header (the AD) and the decrypted body."""

    direction: int
    mtype: int
    final: bool
    index: int
    count: int
    total: int
    header: bytes
    body: bytes


class FrameCodec:
    """Seals chunks in one direction and opens the peer's, under the session's chunk key."""

    def __init__(
        self,
        session_key: bytes,
        session_id: bytes,
        mode_code: int,
        own_direction: int,
        suite: bytes = STREAM_ID,
    ) -> None:
        if not isinstance(session_key, bytes) or len(session_key) != SESSION_KEY_BYTES:
            raise InvalidParameter("session_key must be 32 bytes")
        if not isinstance(session_id, bytes) or len(session_id) != SESSION_ID_BYTES:
            raise InvalidParameter("session_id must be 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=session_id, info=suite + b"/chunk-key").derive(
            session_key
        )
        self._aead = ChaCha20Poly1305(key)
        self._sid = session_id
        self._mode = mode_code
        self._own = own_direction
        self._peer = DIR_R2I if own_direction == DIR_I2R else DIR_I2R

    @staticmethod
    def _nonce(direction: int, mtype: int, index: int) -> bytes:
        return bytes((direction, mtype, 0, 0)) + index.to_bytes(8, "big")

    def seal(self, mtype: int, index: int, final: bool, count: int, total: int, body: bytes) -> Frame:
        """The frame of one outgoing chunk (``Frame.header + ciphertext`` goes on the wire)."""
        if not (0 <= index <= _MAX_U32 and 0 <= count <= total <= _MAX_U32):
            raise InvalidParameter("chunk counts out of range")
        flags = FLAG_FINAL if final else 0
        header = HEADER.pack(
            MAGIC, VERSION, self._own, mtype, self._mode, flags, self._sid, index, count, total
        )
        return Frame(self._own, mtype, final, index, count, total, header, body)

    def wire(self, frame: Frame) -> bytes:
        nonce = self._nonce(frame.direction, frame.mtype, frame.index)
        return frame.header + self._aead.encrypt(nonce, frame.body, frame.header)

    def open(self, chunk: bytes) -> Frame:
        """Parse and authenticate a peer chunk (header checks first, then the tag)."""
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise MalformedChunk("a chunk must be bytes")
        data = bytes(chunk)
        if len(data) < HEADER.size + TAG_BYTES:
            raise MalformedChunk("chunk shorter than a header and a tag")
        magic, version, direction, mtype, mode, flags, sid, index, count, total = HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            raise MalformedChunk("not a blindmatch stream chunk of version 1")
        if flags & ~FLAG_FINAL:
            raise MalformedChunk("unknown chunk flags")
        if direction != self._peer:
            raise UnexpectedChunk("chunk of the wrong direction (a reflected or own chunk)")
        if sid != self._sid:
            raise UnexpectedChunk("chunk of another session")
        if mode != self._mode:
            raise UnexpectedChunk("chunk of another mode")
        header = data[: HEADER.size]
        try:
            body = self._aead.decrypt(self._nonce(direction, mtype, index), data[HEADER.size :], header)
        except InvalidTag:
            raise ChunkAuthError("chunk authentication failed") from None
        return Frame(direction, mtype, bool(flags & FLAG_FINAL), index, count, total, header, body)


class Transcript:
    """The running hash of the message chunks (types 1-4) in protocol order, over plaintext bodies."""

    def __init__(self, session_id: bytes, suite: bytes = STREAM_ID) -> None:
        self._h = hashlib.sha512(suite + b"/transcript" + session_id)

    def add(self, frame: Frame) -> None:
        self._h.update(frame.header)
        self._h.update(len(frame.body).to_bytes(4, "big"))
        self._h.update(frame.body)

    def digest(self) -> bytes:
        return self._h.copy().digest()[:32]


def signed_payload(
    role_code: int,
    session_id: bytes,
    initiator: PublicIdentity,
    responder: PublicIdentity,
    transcript: bytes,
    suite: bytes = STREAM_ID,
) -> bytes:
    """What a party signs at the end: tag, role byte, session id, both public keys, transcript hash."""
    return b"".join(
        (suite, b"/transcript-signature", bytes([role_code]), session_id, initiator.raw, responder.raw,
         transcript)
    )  # fmt: skip
