"""The over-threshold run's messages on the wire (docs/groups.md, "Messages"): every message is signed by
its sender (a lab's identity key, or the coordinator's for results) and bound to the run's id; the
coordinator relays the labs' messages unchanged, so a receiver checks the original sender's signature.

Layout (integers big-endian)::

    magic "BMOT" | version 1 | type (1 key, 2 hop, 3 upload, 4 result) | round id (16)
    | sender (1: lab index, 0 = coordinator) | recipient (1: lab index, 0 = coordinator, 255 = every lab)
    | body | Ed25519 signature (64) over CONTEXT || everything before it

Bodies: key: the lab's round key (32). hop: owner (1), point count (4), points (32 each), chain length (1),
chain values (32 each), then chain length - 1 proofs (64 each). upload: bins (4), slots (4), then
bins * slots slots of P's share and R's share (32 bytes little-endian each, below the field's prime) and
the 16-byte tag. result: count (4), then that
many slot numbers (4 each, strictly increasing).
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from ..hazmat.oprf import PROOF_BYTES
from ..session.identity import Identity, PublicIdentity
from .overthreshold import FIELD, Hop, OverThresholdError, Share

__all__ = [
    "COORDINATOR",
    "EVERY_LAB",
    "KIND_HOP",
    "KIND_KEY",
    "KIND_RESULT",
    "KIND_UPLOAD",
    "Message",
    "UnauthenticatedMessage",
    "decode",
    "decode_hop",
    "decode_result",
    "decode_upload",
    "encode",
    "encode_hop",
    "encode_result",
    "encode_upload",
    "hop_place",
]

MAGIC = b"BMOT\x01"
CONTEXT = b"blindmatch-threshold-message/v1\x00"
KIND_KEY, KIND_HOP, KIND_UPLOAD, KIND_RESULT = 1, 2, 3, 4
COORDINATOR, EVERY_LAB = 0, 255
_HEAD = len(MAGIC) + 1 + 16 + 2
_SIG = 64
#: The largest message this module decodes (a hop of 2^24 points, an upload of 2^26 shares).
MAX_MESSAGE = 1 << 31


class UnauthenticatedMessage(OverThresholdError):
    """Bytes that are not a signed message of this run from one of its parties: a transport may drop them
    and go on (nobody of the run sent them), unlike an authentic message that breaks the protocol."""


@dataclass(frozen=True)
class Message:
    """A decoded, signature-checked message."""

    kind: int
    round_id: bytes
    sender: int
    recipient: int
    body: bytes


def encode(identity: Identity, kind: int, round_id: bytes, sender: int, recipient: int, body: bytes) -> bytes:
    """A signed message."""
    head = MAGIC + bytes([kind]) + round_id + bytes([sender, recipient])
    return head + body + identity.sign(CONTEXT + head + body)


def peek(data: bytes) -> Message:
    """The header and body of ``data`` with its signature **not yet checked** (to pick the key)."""
    if not isinstance(data, bytes) or len(data) < _HEAD + _SIG or len(data) > MAX_MESSAGE:
        raise UnauthenticatedMessage("a run message of impossible length")
    if data[: len(MAGIC)] != MAGIC:
        raise UnauthenticatedMessage("not an over-threshold run message (or another version)")
    kind = data[len(MAGIC)]
    if kind not in (KIND_KEY, KIND_HOP, KIND_UPLOAD, KIND_RESULT):
        raise UnauthenticatedMessage(f"a run message of unknown type {kind}")
    at = len(MAGIC) + 1
    return Message(kind, data[at : at + 16], data[at + 16], data[at + 17], data[_HEAD:-_SIG])


def decode(data: bytes, key: PublicIdentity) -> Message:
    """``data`` checked against the sender's ``key``."""
    msg = peek(data)
    if not key.verify(data[-_SIG:], CONTEXT + data[:-_SIG]):
        raise UnauthenticatedMessage(f"a run message from party {msg.sender} with a bad signature")
    return msg


class _Reader:
    def __init__(self, body: bytes, what: str) -> None:
        self.body, self.at, self.what = body, 0, what

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.body):
            raise OverThresholdError(f"a {self.what} message is cut short")
        out = self.body[self.at : self.at + n]
        self.at += n
        return out

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def end(self) -> None:
        if self.at != len(self.body):
            raise OverThresholdError(f"a {self.what} message has trailing bytes")


def encode_hop(hop: Hop) -> bytes:
    return b"".join(
        [
            bytes([hop.owner]),
            struct.pack(">I", len(hop.points)),
            *hop.points,
            bytes([len(hop.chain)]),
            *hop.chain,
            *hop.proofs,
        ]
    )


def hop_place(body: bytes) -> tuple[int, int]:
    """A hop body's owner and step (proofs so far), read from its counts alone (no points decoded)."""
    if len(body) < 5:
        raise OverThresholdError("a hop message is cut short")
    at = 5 + 32 * int.from_bytes(body[1:5], "big")
    if at >= len(body) or body[at] < 1:
        raise OverThresholdError("a hop without its check value")
    return body[0], body[at] - 1


def decode_hop(body: bytes, max_points: int) -> Hop:
    r = _Reader(body, "hop")
    owner, count = r.int(1), r.int(4)
    if count > max_points:
        raise OverThresholdError(f"a hop of {count} points (the run's lists have {max_points})")
    points = tuple(r.take(32) for _ in range(count))
    chain_len = r.int(1)
    if chain_len < 1:
        raise OverThresholdError("a hop without its check value")
    chain = tuple(r.take(32) for _ in range(chain_len))
    proofs = tuple(r.take(PROOF_BYTES) for _ in range(chain_len - 1))
    r.end()
    return Hop(owner, points, chain, proofs)


_SLOT = 32 + 32 + 16


def encode_upload(rows: list[list[Share]]) -> bytes:
    bins, slots = len(rows), len(rows[0]) if rows else 0
    parts = [struct.pack(">II", bins, slots)]
    for row in rows:
        for y, r, w in row:
            parts += [y.to_bytes(32, "little"), r.to_bytes(32, "little"), w.to_bytes(16, "little")]
    return b"".join(parts)


def decode_upload(body: bytes, bins: int, slots: int) -> list[list[Share]]:
    r = _Reader(body, "upload")
    if (r.int(4), r.int(4)) != (bins, slots):
        raise OverThresholdError(f"an upload must have {bins} bins of {slots} slots")
    if len(body) != 8 + _SLOT * bins * slots:
        raise OverThresholdError("an upload of the wrong length")
    rows = []
    at = 8
    for _ in range(bins):
        row = []
        for _ in range(slots):
            y = int.from_bytes(body[at : at + 32], "little")
            v = int.from_bytes(body[at + 32 : at + 64], "little")
            w = int.from_bytes(body[at + 64 : at + 80], "little")
            if y >= FIELD or v >= FIELD:
                raise OverThresholdError("a share is not a field element")
            row.append((y, v, w))
            at += _SLOT
        rows.append(row)
    return rows


def encode_result(slots: set[int]) -> bytes:
    ordered = sorted(slots)
    return struct.pack(">I", len(ordered)) + b"".join(struct.pack(">I", s) for s in ordered)


def decode_result(body: bytes, total_slots: int) -> list[int]:
    r = _Reader(body, "result")
    count = r.int(4)
    if count > total_slots:
        raise OverThresholdError("a result names more slots than there are")
    out = [r.int(4) for _ in range(count)]
    r.end()
    if any(b <= a for a, b in itertools.pairwise(out)) or (out and out[-1] >= total_slots):
        raise OverThresholdError("a result's slot numbers are not increasing and in range")
    return out
