"""The PSI wire format: encoding and strict parsing of the three messages.

Every message starts with the same header (all integers big-endian)::

    offset  size  field
    0       4     magic b"BMPS"
    4       1     version (1)
    5       1     message type: 1 request, 2 response, 3 confirm
    6       1     mode: 1 intersection, 2 mutual, 3 cardinality, 4 mutual-cardinality
    7       1     flags (0; anything else is rejected)
    8       1     suite id length s
    9       s     suite id (ASCII), b"blindmatch-psi-v1/x25519-ell2ro-sha512"
    9+s     16    session id (chosen by the initiator, echoed by the responder)

followed by a body that depends on the type (``h = 9 + s + 16``)::

    request  (1): n_a u32 | n_a x 32-byte elements X25519(a, H(x))                      (shuffled)
    response (2): n_a u32 | n_b u32 | n_b x 32-byte elements X25519(b, H(y))           (shuffled)
                                    | n_a x 16-byte hashes of X25519(b, X25519(a, H(x)))
                                      (request order; permuted in the cardinality modes)
    confirm  (3): n_b u32 | n_b x 16-byte hashes of X25519(a, X25519(b, H(y)))
                                      (response order in mode mutual; permuted in mutual-cardinality)

A message must have exactly the length its counts give; anything else raises :class:`MalformedMessage`.
Counts are checked against the caller's cap before the payload is sliced.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..hazmat.group import ELEMENT_BYTES, SUITE_ID
from ._errors import MalformedMessage, PeerTooLarge, UnexpectedMessage
from ._modes import MODE_SPECS

__all__ = [
    "HASH_BYTES",
    "MAGIC",
    "MODE_CODES",
    "MSG_CONFIRM",
    "MSG_REQUEST",
    "MSG_RESPONSE",
    "SESSION_ID_BYTES",
    "VERSION",
    "Confirm",
    "Request",
    "Response",
    "confirm_size",
    "encode_confirm",
    "encode_request",
    "encode_response",
    "parse_confirm",
    "parse_request",
    "parse_response",
    "request_size",
    "response_size",
]

MAGIC = b"BMPS"
VERSION = 1
MSG_REQUEST = 1
MSG_RESPONSE = 2
MSG_CONFIRM = 3
_MSG_NAMES = {MSG_REQUEST: "request", MSG_RESPONSE: "response", MSG_CONFIRM: "confirm"}
MODE_CODES = {name: spec.code for name, spec in MODE_SPECS.items()}
_MODE_NAMES = {v: k for k, v in MODE_CODES.items()}
SESSION_ID_BYTES = 16
HASH_BYTES = 16
MAX_COUNT = 2**32 - 1
_U32 = struct.Struct(">I")
_HEADER_LEN = 9 + len(SUITE_ID) + SESSION_ID_BYTES


def request_size(n_a: int) -> int:
    """Length of a request carrying ``n_a`` blinded elements."""
    return _HEADER_LEN + 4 + n_a * ELEMENT_BYTES


def response_size(n_a: int, n_b: int) -> int:
    """Length of a response to ``n_a`` elements from a responder with ``n_b`` items."""
    return _HEADER_LEN + 8 + n_b * ELEMENT_BYTES + n_a * HASH_BYTES


def confirm_size(n_b: int) -> int:
    """Length of a confirm answering ``n_b`` responder elements (mutual modes only)."""
    return _HEADER_LEN + 4 + n_b * HASH_BYTES


@dataclass(frozen=True)
class Request:
    mode: str
    session_id: bytes
    elements: list[bytes]


@dataclass(frozen=True)
class Response:
    mode: str
    session_id: bytes
    n_a: int
    elements: list[bytes]
    hashes: list[bytes]


@dataclass(frozen=True)
class Confirm:
    mode: str
    session_id: bytes
    hashes: list[bytes]


def _header(msg_type: int, mode: str, session_id: bytes) -> bytes:
    return b"".join(
        (MAGIC, bytes([VERSION, msg_type, MODE_CODES[mode], 0, len(SUITE_ID)]), SUITE_ID, session_id)
    )


def _u32(n: int) -> bytes:
    return _U32.pack(n)


def encode_request(mode: str, session_id: bytes, elements: list[bytes]) -> bytes:
    return b"".join((_header(MSG_REQUEST, mode, session_id), _u32(len(elements)), *elements))


def encode_response(
    mode: str, session_id: bytes, n_a: int, elements: list[bytes], hashes: list[bytes]
) -> bytes:
    return b"".join(
        (_header(MSG_RESPONSE, mode, session_id), _u32(n_a), _u32(len(elements)), *elements, *hashes)
    )


def encode_confirm(mode: str, session_id: bytes, hashes: list[bytes]) -> bytes:
    return b"".join((_header(MSG_CONFIRM, mode, session_id), _u32(len(hashes)), *hashes))


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        try:
            return memoryview(data).cast("B").tobytes()
        except (TypeError, ValueError):
            raise MalformedMessage("a PSI message must be a contiguous byte buffer") from None
    raise MalformedMessage("a PSI message must be bytes")


def _parse_header(data: bytes, expected_type: int) -> tuple[str, bytes]:
    """Check the header of ``data``; return (mode, session id)."""
    name = _MSG_NAMES[expected_type]
    if len(data) < _HEADER_LEN:
        raise MalformedMessage(f"{name}: truncated header ({len(data)} bytes)")
    if bytes(data[0:4]) != MAGIC:
        raise MalformedMessage(f"{name}: not a blindmatch PSI message (bad magic)")
    if data[4] != VERSION:
        raise MalformedMessage(f"{name}: unsupported protocol version {data[4]}")
    if data[5] != expected_type:
        got = _MSG_NAMES.get(data[5])
        if got is None:
            raise MalformedMessage(f"{name}: unknown message type {data[5]}")
        raise UnexpectedMessage(f"expected a {name} message, got a {got} message")
    mode = _MODE_NAMES.get(data[6])
    if mode is None:
        raise MalformedMessage(f"{name}: unknown mode code {data[6]}")
    if data[7] != 0:
        raise MalformedMessage(f"{name}: unknown flags")
    if data[8] != len(SUITE_ID) or bytes(data[9 : 9 + len(SUITE_ID)]) != SUITE_ID:
        raise MalformedMessage(f"{name}: unsupported cipher suite")
    sid = bytes(data[9 + len(SUITE_ID) : _HEADER_LEN])
    return mode, sid


def _counts(data: bytes, off: int, k: int, name: str) -> list[int]:
    if len(data) < off + 4 * k:
        raise MalformedMessage(f"{name}: truncated counts")
    return [_U32.unpack_from(data, off + 4 * i)[0] for i in range(k)]


def _check_cap(n: int, cap: int, name: str) -> None:
    if n > cap:
        raise PeerTooLarge(f"{name}: the peer's set has {n} items, more than the {cap} allowed")


def _check_length(data: bytes, expected: int, name: str) -> None:
    if len(data) < expected:
        raise MalformedMessage(f"{name}: truncated ({len(data)} of {expected} bytes)")
    if len(data) > expected:
        raise MalformedMessage(f"{name}: {len(data) - expected} unexpected trailing bytes")


def _slices(data: bytes, off: int, n: int, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(off, off + n * size, size)]


def parse_request(data: bytes, max_items: int) -> Request:
    """Parse a request; the peer count is checked against ``max_items`` before the payload is read."""
    data = _as_bytes(data)
    mode, sid = _parse_header(data, MSG_REQUEST)
    (n_a,) = _counts(data, _HEADER_LEN, 1, "request")
    _check_cap(n_a, max_items, "request")
    off = _HEADER_LEN + 4
    _check_length(data, request_size(n_a), "request")
    return Request(mode, sid, _slices(data, off, n_a, ELEMENT_BYTES))


def parse_response(data: bytes, max_items: int, expected_n_a: int) -> Response:
    """Parse a response to a request of ``expected_n_a`` elements; ``n_b`` is capped at ``max_items``."""
    data = _as_bytes(data)
    mode, sid = _parse_header(data, MSG_RESPONSE)
    n_a, n_b = _counts(data, _HEADER_LEN, 2, "response")
    if n_a != expected_n_a:
        raise UnexpectedMessage(f"response: it answers {n_a} elements, but {expected_n_a} were sent")
    _check_cap(n_b, max_items, "response")
    off = _HEADER_LEN + 8
    _check_length(data, response_size(n_a, n_b), "response")
    elements = _slices(data, off, n_b, ELEMENT_BYTES)
    hashes = _slices(data, off + n_b * ELEMENT_BYTES, n_a, HASH_BYTES)
    return Response(mode, sid, n_a, elements, hashes)


def parse_confirm(data: bytes, expected_count: int) -> Confirm:
    data = _as_bytes(data)
    mode, sid = _parse_header(data, MSG_CONFIRM)
    (n_b,) = _counts(data, _HEADER_LEN, 1, "confirm")
    if n_b != expected_count:
        raise UnexpectedMessage(f"confirm: it answers {n_b} elements, but {expected_count} were sent")
    off = _HEADER_LEN + 4
    _check_length(data, confirm_size(n_b), "confirm")
    return Confirm(mode, sid, _slices(data, off, n_b, HASH_BYTES))
