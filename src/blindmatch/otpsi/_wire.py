"""Messages of the OT-extension engine (docs/protocol-ot.md): a 24-byte header, then a fixed-size body.

Header: ``magic "BMO1" || version (1) || type (1) || mode code (1) || reserved (0) || session id (16)``.
Every body's size follows from the two padded set sizes and the mode, so each message is checked against
its exact expected length before anything in it is used.
"""

from __future__ import annotations

import math
import struct

from ..hazmat.ot import padded_rows
from ..psi._errors import MalformedMessage, ModeNotAllowed
from ..psi._errors import UnexpectedMessage as _Unexpected

__all__ = [
    "CODE_OF_MODE",
    "HEADER_BYTES",
    "MAGIC",
    "OT_MODES",
    "Sizes",
    "W",
    "pack",
    "unpack",
]

MAGIC = b"BMO1"
VERSION = 1
HEADER_BYTES = 24
_HEADER = struct.Struct(">4sBBBB16s")
#: The pseudorandom code's width in bits (KKRT16's table asks at most 448 for up to 2^24 instances).
W = 512
POINT = 32
KEY = 16
COMMIT = 32
OT_MODES = ("intersection", "mutual")
CODE_OF_MODE = {"intersection": 1, "mutual": 2}
MODE_OF_CODE = {v: k for k, v in CODE_OF_MODE.items()}
T_START, T_BASE, T_MATRIX, T_VALUES, T_CONFIRM = 1, 2, 3, 4, 5


class Sizes:
    """The sizes both parties derive from ``n_i``, ``n_r`` and the number of bins."""

    def __init__(self, n_i: int, n_r: int, bins: int, stat_bits: int = 40) -> None:
        self.n_i, self.n_r, self.bins = n_i, n_r, bins
        #: value length in bytes: false matches at most 2^-stat_bits per session (3 lists, no stash); the
        #: bucketed streaming engine asks 40 + log2(buckets) so that its buckets together keep 2^-40
        self.value_bytes = max(8, math.ceil((stat_bits + math.log2(3 * max(n_i, 1) * max(n_r, 1))) / 8))
        self.column_bytes = padded_rows(bins) // 8  # the OT core pads the bins to a multiple of 64

    def body(self, msg_type: int) -> int:
        if msg_type == T_START:  # sizes, S, commitment to the initiator's cuckoo-key share
            return 8 + POINT + COMMIT
        if msg_type == T_BASE:  # W points, code key, the responder's cuckoo-key share
            return W * POINT + 2 * KEY
        if msg_type == T_MATRIX:  # U, then the initiator's cuckoo-key share (opening its commitment)
            return W * self.column_bytes + KEY
        if msg_type == T_VALUES:
            return 3 * self.n_r * self.value_bytes
        if msg_type == T_CONFIRM:  # one bit per position of the responder's lists
            return (self.n_r + 7) // 8
        raise ValueError("unknown message type")

    def message(self, msg_type: int) -> int:
        return HEADER_BYTES + self.body(msg_type)


def pack(msg_type: int, mode: str, session_id: bytes, body: bytes) -> bytes:
    return _HEADER.pack(MAGIC, VERSION, msg_type, CODE_OF_MODE[mode], 0, session_id) + body


def unpack(
    data: bytes, msg_type: int, mode: str | None, session_id: bytes | None, expected: int | None
) -> tuple[str, bytes, bytes]:
    """``(mode, session id, body)`` of a message that must be of ``msg_type`` (and of ``mode``, this
    ``session_id`` and ``expected`` total bytes when given). Raises the PSI layer's remote errors."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessage("an OT-engine message is bytes")
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise MalformedMessage("OT-engine message truncated")
    magic, version, got_type, code, reserved, sid = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION or reserved != 0:
        raise MalformedMessage("not an OT-engine message of a version this blindmatch knows")
    if got_type != msg_type:
        raise _Unexpected(f"expected OT-engine message {msg_type}, got {got_type}")
    got_mode = MODE_OF_CODE.get(code)
    if got_mode is None or (mode is not None and got_mode != mode):
        raise ModeNotAllowed("the OT-engine message names another mode")
    if session_id is not None and sid != session_id:
        raise MalformedMessage("the OT-engine message belongs to another session")
    if expected is not None and len(data) != expected:
        raise MalformedMessage(f"OT-engine message {msg_type} is {len(data)} bytes, expected {expected}")
    return got_mode, sid, data[HEADER_BYTES:]
