"""Attack helpers against the OT engine streaming in buckets (``blindmatch.streaming._otstream``).

Not collected by pytest (no ``test_`` prefix): ``tests/test_streaming_ot_review.py`` runs them. A hostile
peer here holds the session key, so it can open every chunk of its honest counterpart and seal any chunk
it likes with ``FrameCodec(KEY, SID, mode_code, direction, OT_STREAM_ID)``; the driver relays the chunks
of two parties in lock step and lets a ``tamper`` function replace what one side sends.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import blindmatch.streaming._otstream as otstream
from blindmatch.otpsi import OtInitiator
from blindmatch.otpsi._wire import CODE_OF_MODE, HEADER_BYTES, MAGIC, Sizes
from blindmatch.psi._cuckoo import cuckoo_bins
from blindmatch.session.identity import Identity
from blindmatch.streaming import OT_STREAM_ID, FrameCodec, OtStreamInitiator, OtStreamResponder
from blindmatch.streaming._base import MODE_CODES
from blindmatch.streaming._buckets import STAT_BITS, bucket_cap, bucket_count, bucket_hashes
from blindmatch.streaming._frames import DIR_I2R, DIR_R2I, HEADER, Frame

IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(3)]
KEY = bytes(range(32))
SID = bytes(range(16, 32))
SID2 = bytes(range(100, 116))
SEEDS = (bytes([7]) * 32, bytes([8]) * 32)
T_HELLO, T_SIG = 10, 5

#: 102 and 81 distinct items: two buckets at ``bucket_items=64``
A = [b"a%d" % i for i in range(80)] + [b"s%d" % i for i in range(22)] + [b"a3", b"s5"]
B = [b"b%d" % i for i in range(59)] + [b"s%d" % i for i in range(22)] + [b"b7"]


def parties(
    tmp: Path | str,
    a: Iterable[bytes] = A,
    b: Iterable[bytes] = B,
    *,
    session_id: bytes = SID,
    **kw: Any,
) -> tuple[OtStreamInitiator, OtStreamResponder]:
    """An honest initiator (identity 0) and responder (identity 1); ``bucket_items=64`` by default."""
    common: dict[str, Any] = dict(
        mode="mutual", session_id=session_id, session_key=KEY, workdir=tmp, bucket_items=64
    )
    common.update(kw)
    ini = OtStreamInitiator(a, identity=IDS[0], peer=IDS[1].public, seed=SEEDS[0], **common)
    res = OtStreamResponder(b, identity=IDS[1], peer=IDS[0].public, seed=SEEDS[1], **common)
    return ini, res


def drain(party: Any) -> list[bytes]:
    out: list[bytes] = []
    while (c := party.next_chunk()) is not None:
        out.append(c)
    return out


def codec(direction: int, mode: str = "mutual", session_id: bytes = SID) -> FrameCodec:
    """The codec a hostile party sending in ``direction`` seals with (and opens the other direction)."""
    return FrameCodec(KEY, session_id, MODE_CODES[mode], direction, OT_STREAM_ID)


def open_chunk(chunk: bytes, mode: str = "mutual", session_id: bytes = SID) -> Frame:
    """Decrypt any chunk of either direction (the hostile peer holds the key)."""
    direction = chunk[5]
    other = DIR_R2I if direction == DIR_I2R else DIR_I2R
    return codec(other, mode, session_id).open(chunk)


def reseal(
    chunk: bytes,
    *,
    mode: str = "mutual",
    session_id: bytes = SID,
    mtype: int | None = None,
    index: int | None = None,
    final: bool | None = None,
    count: int | None = None,
    total: int | None = None,
    body: bytes | None = None,
) -> bytes:
    """A valid chunk in ``chunk``'s direction with some header fields or the body replaced."""
    f = open_chunk(chunk, mode, session_id)
    c = codec(f.direction, mode, session_id)
    frame = c.seal(
        f.mtype if mtype is None else mtype,
        f.index if index is None else index,
        f.final if final is None else final,
        f.count if count is None else count,
        f.total if total is None else total,
        f.body if body is None else body,
    )
    return c.wire(frame)


def hello(direction: int, n: int, bucket_items: int = 64, mode: str = "mutual", size: int = 12) -> bytes:
    """A hostile hello: padded size ``n`` (8 bytes), ``bucket_items`` (4 bytes), cut or padded to ``size``."""
    body = (n.to_bytes(8, "big") + bucket_items.to_bytes(4, "big") + bytes(16))[:size]
    c = codec(direction, mode)
    return c.wire(c.seal(T_HELLO, 0, True, 0, 0, body))


def ot_header(ot_type: int, mode: str, bucket_sid: bytes) -> bytes:
    """The OT engine's 24-byte message header (``docs/protocol-ot.md``)."""
    return MAGIC + bytes((1, ot_type, CODE_OF_MODE[mode], 0)) + bucket_sid


@dataclass
class Outcome:
    """How a relayed exchange ended: the exception and the party that raised it, or both done."""

    error: BaseException | None = None
    where: str | None = None  # "initiator" or "responder": the party whose call raised
    stalled: bool = False
    steps: int = 0
    chunks: list[tuple[str, int, int, int, int]] = field(
        default_factory=list
    )  # role, type, index, len, bound

    @property
    def done(self) -> bool:
        return self.error is None and not self.stalled


Tamper = Callable[[str, bytes], list[bytes]]


def relay(
    ini: OtStreamInitiator, res: OtStreamResponder, tamper: Tamper | None = None, max_steps: int = 10_000
) -> Outcome:
    """Relay in lock step; ``tamper(sender_role, chunk)`` gives the chunks actually delivered. Records each
    delivered chunk's (sender, type, index, length, receiver's ``max_chunk_bytes`` before receipt)."""
    out = Outcome()
    roles = {id(ini): "initiator", id(res): "responder"}
    src: Any = ini
    dst: Any = res
    idle = 0
    backlog: list[bytes] = []  # what the last receiver answered at once, as a lock-step transport does
    while out.steps < max_steps:
        out.steps += 1
        name = roles[id(src)]
        try:
            sent = backlog + drain(src)
        except Exception as exc:
            out.error, out.where = exc, name
            return out
        backlog = []
        delivered: list[bytes] = []
        for c in sent:
            delivered.extend(tamper(name, c) if tamper else [c])
        for c in delivered:
            out.chunks.append((name, c[6], int.from_bytes(c[25:29], "big"), len(c), dst.max_chunk_bytes))
            try:
                dst.receive_chunk(c)
                backlog.extend(drain(dst))
            except Exception as exc:
                out.error, out.where = exc, roles[id(dst)]
                return out
        if ini.done and res.done:
            return out
        idle = idle + 1 if not delivered else 0
        if idle > 2:
            out.stalled = True
            return out
        src, dst = dst, src
    out.stalled = True
    return out


def geometry(n_i: int, n_r: int, bucket_items: int) -> tuple[int, int, int, int]:
    """(buckets, cap_i, cap_r, stat_bits) as both sides derive them."""
    geo = otstream._Geometry(n_i, n_r, bucket_items)
    return geo.buckets, geo.cap_i, geo.cap_r, geo.stat_bits


def bucket_of(items: list[bytes], buckets: int, session_id: bytes = SID) -> list[int]:
    key = hashlib.sha256(OT_STREAM_ID + b"/bucket-key" + session_id).digest()
    bits = buckets.bit_length() - 1
    h = bucket_hashes(items, key)
    return [int(x) >> (64 - bits) if bits else 0 for x in h.tolist()]


def items_in_bucket(bucket: int, buckets: int, count: int, prefix: bytes = b"x") -> list[bytes]:
    """``count`` distinct items that all fall into ``bucket`` of ``buckets`` (by search)."""
    out: list[bytes] = []
    i = 0
    while len(out) < count:
        batch = [prefix + b"%d" % j for j in range(i, i + 4096)]
        out.extend(x for x, b in zip(batch, bucket_of(batch, buckets), strict=True) if b == bucket)
        i += 4096
    return out[:count]


def binomial_tail(n: int, p: float, c: int) -> float:
    """P[Bin(n, p) > c], summed in log space until the terms vanish."""
    total = 0.0
    for k in range(c + 1, n + 1):
        log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        term = math.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))
        total += term
        if term < total * 1e-18 and k > n * p:
            break
    return total


def false_match_bound(n_i: int, n_r: int, bucket_items: int) -> float:
    """Union bound over all buckets of a false match: ``B * 3 * cap_i * cap_r * 2^-(8 * value_bytes)``."""
    buckets, cap_i, cap_r, stat_bits = geometry(n_i, n_r, bucket_items)
    sizes = Sizes(cap_i, cap_r, cuckoo_bins(cap_i), stat_bits)
    return float(buckets * 3 * max(cap_i, 1) * max(cap_r, 1) * 2.0 ** (-8 * sizes.value_bytes))


# --- hostile OT-engine parties (monkeypatched into the engine: they sign what they send) ---


class OverMarkingInitiator(OtInitiator):
    """A KKRT receiver that, in ``mutual``, marks as many of the responder's positions as the OT engine's
    per-session check lets it (``min(n_i, n_r)``: its padded bucket size), whatever it really matched."""

    def finish(self, message: bytes) -> bytes | None:
        out = super().finish(message)
        if out is None or self.mode != "mutual" or self._step != 3:  # only the confirm (message 5)
            return out
        n_r = self.sizes.n_r
        bits = np.zeros(n_r + (-n_r) % 8, dtype=np.uint8)
        bits[: min(self.sizes.n_i, n_r)] = 1
        return out[:HEADER_BYTES] + np.packbits(bits, bitorder="little").tobytes()


def install_overmarking(monkeypatch: Any) -> None:
    monkeypatch.setattr(otstream, "OtInitiator", OverMarkingInitiator)


def chunk_lengths(outcome: Outcome) -> list[tuple[str, int, int, int]]:
    return [(who, t, i, n) for who, t, i, n, _ in outcome.chunks]


def spill_left(tmp: Path | str) -> list[str]:
    return sorted(os.listdir(tmp))


def header_fields(chunk: bytes) -> tuple[Any, ...]:
    return HEADER.unpack_from(chunk)


__all__ = [
    "IDS",
    "KEY",
    "SEEDS",
    "SID",
    "SID2",
    "STAT_BITS",
    "A",
    "B",
    "Outcome",
    "OverMarkingInitiator",
    "binomial_tail",
    "bucket_cap",
    "bucket_count",
    "bucket_of",
    "chunk_lengths",
    "codec",
    "drain",
    "false_match_bound",
    "geometry",
    "header_fields",
    "hello",
    "install_overmarking",
    "items_in_bucket",
    "open_chunk",
    "ot_header",
    "parties",
    "relay",
    "reseal",
    "spill_left",
]
