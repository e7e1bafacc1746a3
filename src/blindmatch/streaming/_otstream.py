"""The OT engine, streaming in buckets (``docs/streaming.md``, "The OT engine in buckets")::

init = OtStreamInitiator(a_items, ...)        resp = OtStreamResponder(b_items, ...)
the same loop as the DH engine's parties: next_chunk() to send, receive_chunk() to take the peer's

Both sides split their items into the same ``B`` buckets by a keyed hash, pad every bucket to a cap that
depends only on the padded size, and run one KKRT session of :mod:`blindmatch.otpsi` per bucket, in
order; every OT message travels as one AEAD chunk and the transcript is signed at the end, as in the DH
engine. Memory is one bucket (``bucket_items``), not the set.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable
from itertools import chain

import numpy as np

from .._derive import derive_key
from ..errors import CapacityError, InvalidParameter, LocalProtocolError
from ..executors import Executor
from ..otpsi import OtInitiator, OtResponder
from ..otpsi._wire import OT_MODES, Sizes
from ..psi._cuckoo import cuckoo_bins
from ..session.identity import Identity, PublicIdentity
from ._base import (
    DEFAULT_CHUNK_ITEMS,
    DEFAULT_FRAME_ITEMS,
    DEFAULT_MAX_PEER_ITEMS,
    SIGNATURE_BYTES,
    T_SIGNATURE,
    Array,
    StreamMode,
    StreamParams,
    StreamParty,
    party_seed,
)
from ._buckets import STAT_BITS, Bucket, BucketStage, bucket_cap, bucket_count
from ._errors import MalformedChunk, UnexpectedChunk
from ._frames import DIR_I2R, DIR_R2I, HEADER, TAG_BYTES, Frame
from ._own import dummy_items

__all__ = ["DEFAULT_BUCKET_ITEMS", "OT_STREAM_ID", "OtStreamInitiator", "OtStreamResponder"]

OT_STREAM_ID = b"blindmatch-stream-ot-v1/kkrt16-buckets-blake2b"
DEFAULT_BUCKET_ITEMS = 1 << 16
MAX_BUCKET_ITEMS = 1 << 22
T_HELLO = 10
#: chunk type of OT message 1..5 (start, base OTs, matrix, values, confirm)
T_OT = (0, 11, 12, 13, 14, 15)
_HELLO_BYTES = 12  # padded size (8), bucket items (4)


def bucket_session_id(session_id: bytes, bucket: int) -> bytes:
    """The session id of bucket ``bucket``'s OT session."""
    tag = OT_STREAM_ID + b"/bucket-session" + session_id + bucket.to_bytes(4, "big")
    return hashlib.sha256(tag).digest()[:16]


def exchange_chunks(mode: str, n_i: int, n_r: int, bucket_items: int) -> int:
    """Chunks of a whole exchange, both ways, from the padded sizes: two hellos, four OT messages per
    bucket (five in ``mutual``), two signatures."""
    per_bucket = 5 if mode == "mutual" else 4
    return 2 + bucket_count(max(n_i, n_r), bucket_items) * per_bucket + 2


class _Geometry:
    """What both sides derive from the two padded sizes: buckets, caps, the OT sizes of every bucket."""

    def __init__(self, n_i: int, n_r: int, bucket_items: int) -> None:
        self.buckets = bucket_count(max(n_i, n_r), bucket_items)
        self.cap_i, self.cap_r = bucket_cap(n_i, self.buckets), bucket_cap(n_r, self.buckets)
        self.stat_bits = STAT_BITS + math.ceil(math.log2(self.buckets))
        self.sizes = Sizes(self.cap_i, self.cap_r, cuckoo_bins(self.cap_i, self.stat_bits), self.stat_bits)

    def message(self, ot_type: int) -> int:
        return self.sizes.message(ot_type)


class _OtRole(StreamParty):
    _suite = OT_STREAM_ID

    def __init__(
        self,
        items: Iterable[bytes],
        *,
        mode: StreamMode,
        session_id: bytes,
        session_key: bytes,
        identity: Identity,
        peer: PublicIdentity,
        workdir: str | os.PathLike[str],
        padded_size: int | None = None,
        max_peer_items: int = DEFAULT_MAX_PEER_ITEMS,
        chunk_items: int = DEFAULT_CHUNK_ITEMS,
        bucket_items: int = DEFAULT_BUCKET_ITEMS,
        seed: bytes | None = None,
        rng: Callable[[int], bytes] | None = None,
        executor: Executor | None = None,
    ) -> None:
        if mode not in OT_MODES:
            raise InvalidParameter(f"the OT engine streams the modes {', '.join(OT_MODES)} only")
        if isinstance(bucket_items, bool) or not isinstance(bucket_items, int):
            raise InvalidParameter("bucket_items must be an integer")
        if not 1 <= bucket_items <= MAX_BUCKET_ITEMS:
            raise InvalidParameter(f"bucket_items must be in [1, {MAX_BUCKET_ITEMS}]")
        self._bucket_items = bucket_items
        params = StreamParams(
            mode, session_id, session_key, identity, peer, workdir, padded_size, max_peer_items,
            chunk_items, DEFAULT_FRAME_ITEMS, executor,
        )  # fmt: skip
        super().__init__(items, params, party_seed(seed, rng))

    def _init_engine(self, seed: bytes) -> None:
        label = f"blindmatch/stream-ot/v1/{self._role}/".encode()
        key = hashlib.sha256(OT_STREAM_ID + b"/bucket-key" + self._p.session_id).digest()
        self._stage = BucketStage(self._spill, key, self._p.chunk_items)
        self._ot_seed = derive_key(seed, label + b"ot")
        self._dummy_key = derive_key(seed, label + b"dummies")
        self._padded = 0
        self._geo: _Geometry | None = None
        self._bucket = 0
        self._current: Bucket | None = None
        self._found: list[Array] = []
        self._shared = 0
        self._marked = 0

    def _build_own(self, items: Iterable[bytes]) -> None:
        self._stage.add(items)
        self._padded = self._stage.check_padded(self._p.padded_size)

    def _own_sizes(self) -> tuple[int, int]:
        return self._padded, self._stage.distinct

    @property
    def max_chunk_bytes(self) -> int:
        """The largest chunk an honest peer sends next: a hello before the sizes are known, then the
        largest OT message of a bucket (every bucket's messages have the same sizes)."""
        body = _HELLO_BYTES
        if self._geo is not None:
            body = max(SIGNATURE_BYTES, *(self._geo.message(t) for t in self._peer_types))
        return HEADER.size + body + TAG_BYTES

    # -- framing ---------------------------------------------------------------------------------------------
    def _check_frame(self, frame: Frame) -> None:
        head = (frame.index, frame.count, frame.total, frame.final)
        if frame.mtype in (T_SIGNATURE, T_HELLO):
            size = SIGNATURE_BYTES if frame.mtype == T_SIGNATURE else _HELLO_BYTES
            if head != (0, 0, 0, True) or len(frame.body) != size:
                raise MalformedChunk("a hello or signature is one chunk of its fixed size")
            return
        geo = self._geometry()
        if frame.index != self._bucket or frame.total != geo.buckets:
            raise UnexpectedChunk("a chunk of another bucket (reordered, repeated or dropped)")
        if frame.final != (frame.index == geo.buckets - 1):
            raise UnexpectedChunk("a chunk's final flag breaks the framing rule")
        if frame.count != 0 or len(frame.body) != geo.message(T_OT.index(frame.mtype)):
            raise MalformedChunk("an OT message of the wrong length")

    def _chunk(self, ot_type: int, message: bytes) -> bytes:
        geo = self._geometry()
        last = self._bucket == geo.buckets - 1
        frame = self._codec.seal(T_OT[ot_type], self._bucket, last, 0, geo.buckets, message)
        self._transcript.add(frame)
        return self._codec.wire(frame)

    def _hello(self) -> bytes:
        body = self._padded.to_bytes(8, "big") + self._bucket_items.to_bytes(4, "big")
        frame = self._codec.seal(T_HELLO, 0, True, 0, 0, body)
        self._transcript.add(frame)
        return self._codec.wire(frame)

    def _take_hello(self, body: bytes) -> None:
        """The peer's padded size (checked against the cap before any work) and bucket size."""
        n_peer, items = int.from_bytes(body[:8], "big"), int.from_bytes(body[8:], "big")
        self._check_peer_size(n_peer)
        if items != self._bucket_items:
            raise UnexpectedChunk(f"the peer's bucket size {items} is not ours ({self._bucket_items})")
        n_i, n_r = (self._padded, n_peer) if self._role_code() == 1 else (n_peer, self._padded)
        self._geo = geo = _Geometry(n_i, n_r, self._bucket_items)
        cap = geo.cap_i if self._role_code() == 1 else geo.cap_r
        biggest = int(self._stage.bucket_sizes(geo.buckets).max())
        if biggest > cap:  # probability <= 2^-40 for any set: the buckets are keyed per session
            raise CapacityError(f"a bucket holds {biggest} of our items, above its cap of {cap}; run again")

    def _geometry(self) -> _Geometry:
        if self._geo is None:
            raise UnexpectedChunk("an OT chunk before the hello")
        return self._geo

    # -- buckets ---------------------------------------------------------------------------------------------
    def _bucket_items_padded(self, cap: int) -> list[bytes]:
        """The current bucket's items, padded with this party's dummies to ``cap``."""
        geo = self._geometry()
        self._current = bucket = self._stage.bucket(self._bucket, geo.buckets)
        if len(bucket.items) > cap:  # pragma: no cover - checked for every bucket after the hello
            raise CapacityError("a bucket exceeds its cap")
        dummies = dummy_items(self._dummy_key, self._bucket * cap, cap - len(bucket.items))
        return bucket.items + dummies

    def _record(self, matched: list[bytes] | None) -> None:
        """Keep the input indices of the current bucket's shared items."""
        bucket = self._current
        if bucket is None or matched is None:
            return
        where = {x: j for j, x in enumerate(bucket.items)}
        positions = [where[x] for x in matched if x in where]
        self._shared += len(positions)
        if positions:
            self._found.append(np.array(bucket.indices(positions), dtype=np.uint64))
        self._current = None

    def _results(self) -> None:
        self._count = self._shared
        found = np.concatenate(self._found) if self._found else np.empty(0, np.uint64)
        self._matched = np.sort(found)
        self._found = []

    _peer_types: tuple[int, ...] = ()


class OtStreamInitiator(_OtRole):
    """The KKRT receiver in every bucket: learns which of its items are shared."""

    _role = "initiator"
    _direction = DIR_I2R
    _peer_types = (2, 4)
    _started = False

    def _role_code(self) -> int:
        return 1

    def _next_chunk(self) -> bytes | None:
        if not self._started:
            self._started = True
            self._prepare()
            self._send(iter([self._hello()]), T_HELLO)
        return super()._next_chunk()

    def _start_bucket(self) -> list[bytes]:
        geo = self._geometry()
        self._ot = OtInitiator(
            self._bucket_items_padded(geo.cap_i), self._p.mode, seed=self._ot_seed, peer_size=geo.cap_r,
            session_id=bucket_session_id(self._p.session_id, self._bucket), stat_bits=geo.stat_bits,
        )  # fmt: skip
        return [self._chunk(1, self._ot.start())]

    def _on_frame(self, frame: Frame) -> None:
        if frame.mtype == T_HELLO:
            self._take_hello(frame.body)
            self._send(iter(self._start_bucket()), T_OT[2])
        elif frame.mtype == T_OT[2]:
            matrix = self._ot.finish(frame.body)
            if matrix is None:  # pragma: no cover - message 3 always comes
                raise LocalProtocolError("no matrix")
            self._send(iter([self._chunk(3, matrix)]), T_OT[4])
        elif frame.mtype == T_OT[4]:
            confirm = self._ot.finish(frame.body)
            self._record(self._ot.result.matched)
            out = [] if confirm is None else [self._chunk(5, confirm)]
            self._bucket += 1
            if self._bucket < self._geometry().buckets:
                self._send(iter(out + self._start_bucket()), T_OT[2])
            else:
                self._results()
                self._send(chain(out, self._signature_chunk()), T_SIGNATURE)
        else:
            self._verify_peer(frame.body)
            self._finish()


class OtStreamResponder(_OtRole):
    """The KKRT sender in every bucket: learns its shared items in ``mutual``, only ``n_I`` otherwise."""

    _role = "responder"
    _direction = DIR_R2I
    _peer_types = (1, 3, 5)
    _first_expect = T_HELLO

    def _role_code(self) -> int:
        return 2

    def _on_frame(self, frame: Frame) -> None:
        if frame.mtype == T_HELLO:
            self._prepare()
            self._take_hello(frame.body)
            self._send(iter([self._hello()]), T_OT[1])
        elif frame.mtype == T_OT[1]:
            geo = self._geometry()
            self._ot = OtResponder(
                self._bucket_items_padded(geo.cap_r), allowed_modes=(self._p.mode,), seed=self._ot_seed,
                peer_size=geo.cap_i, session_id=bucket_session_id(self._p.session_id, self._bucket),
                stat_bits=geo.stat_bits,
            )  # fmt: skip
            self._send(iter([self._chunk(2, self._ot.respond(frame.body))]), T_OT[3])
        elif frame.mtype == T_OT[3]:
            values = self._chunk(4, self._ot.respond(frame.body))
            self._send(iter([values]), T_OT[5] if self._p.mode == "mutual" else self._next_bucket())
        elif frame.mtype == T_OT[5]:
            self._ot.finish(frame.body)
            # the OT engine bounds one confirm by the bucket's cap; over all buckets an honest initiator
            # marks at most its padded size (the hello's n_I), as in the one-session engine
            self._marked += self._ot.result.count or 0
            if self._marked > self._peer_size:
                raise MalformedChunk(
                    f"the confirms mark {self._marked} values, more than the initiator's {self._peer_size}"
                )
            self._record(self._ot.result.matched)
            self._expect = self._next_bucket()
        else:
            self._verify_peer(frame.body)
            self._send(self._signature_chunk(), None)

    def _next_bucket(self) -> int:
        """Move on; the message type to expect next (the next bucket's start, or the signature)."""
        self._bucket += 1
        if self._bucket < self._geometry().buckets:
            return T_OT[1]
        if self._p.mode == "mutual":
            self._results()
        return T_SIGNATURE

    def _sent_all(self) -> None:
        if self._expect is None and self._signatures[1]:
            self._finish()
