"""What both streaming parties share: parameters, the frame receiver, the send queue, failure handling."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .._derive import derive_key
from ..errors import FileAccessError, InvalidParameter, LocalProtocolError
from ..executors import Executor, resolve_executor
from ..hazmat.group import clamp_scalar, validate_peer_elements
from ..psi._base import _party_seed
from ..psi._errors import PeerTooLarge
from ..session.identity import Identity, PublicIdentity
from ._errors import BadSignature, MalformedChunk, TruncatedStream, UnexpectedChunk
from ._frames import (
    DIR_I2R,
    HEADER,
    STREAM_ID,
    TAG_BYTES,
    Frame,
    FrameCodec,
    Transcript,
    chunk_count,
    chunk_elements,
    signed_payload,
)
from ._own import OwnList
from ._spill import Partitions, SpillDir, join

__all__ = ["DEFAULT_CHUNK_ITEMS", "DEFAULT_FRAME_ITEMS", "StreamMode", "StreamResult"]

StreamMode = Literal["intersection", "mutual", "cardinality", "mutual-cardinality"]
#: the wire codes of ``docs/protocol.md``
MODE_CODES: dict[str, int] = {"intersection": 1, "mutual": 2, "cardinality": 3, "mutual-cardinality": 4}
#: modes with a confirm (the responder learns too); modes where hash lists are sorted (counts only)
CONFIRM_MODES = frozenset({"mutual", "mutual-cardinality"})
COUNT_ONLY_MODES = frozenset({"cardinality", "mutual-cardinality"})
DEFAULT_CHUNK_ITEMS = 1 << 16
DEFAULT_FRAME_ITEMS = 1 << 16
DEFAULT_MAX_PEER_ITEMS = 1 << 24
MAX_ITEMS = (1 << 32) - 1
T_REQUEST, T_ELEMENTS, T_HASHES, T_CONFIRM, T_SIGNATURE = 1, 2, 3, 4, 5
SIGNATURE_BYTES = 64
_COMPARE_TAG = STREAM_ID + b"/compare-16"

Array = npt.NDArray[Any]


@dataclass(frozen=True, eq=False)
class StreamResult:
    """What one party learned, after it verified the peer's signature over the transcript.

    * ``matched_indices``: sorted input positions (in the caller's iterable, every repeat) of the own items
      in the intersection, or ``None`` when the mode gives this party no items (count-only modes, the
      responder in ``intersection``); :func:`blindmatch.streaming.select_items` maps them back to items;
    * ``count``: distinct shared items, or ``None`` when the mode gives this party nothing (the responder
      in ``intersection`` and ``cardinality``);
    * ``own_size`` / ``peer_size``: padded sizes (elements on the wire); ``distinct``: own distinct items;
    * ``transcript_hash`` and both signatures, identical on both sides.
    """

    mode: StreamMode
    matched_indices: Array | None = field(repr=False)
    count: int | None
    own_size: int
    peer_size: int
    distinct: int
    transcript_hash: bytes
    initiator_signature: bytes
    responder_signature: bytes


def compare_key(session_id: bytes) -> bytes:
    """BLAKE2b key of the comparison hashes (``docs/streaming.md``)."""
    return hashlib.sha256(_COMPARE_TAG + session_id).digest()


def _int_param(value: object, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidParameter(f"{name} must be an integer in [{lo}, {hi}]")
    return value


@dataclass(frozen=True)
class StreamParams:
    """The caller's choices, checked once."""

    mode: StreamMode
    session_id: bytes
    session_key: bytes
    identity: Identity
    peer: PublicIdentity
    workdir: str | os.PathLike[str]
    padded_size: int | None
    max_peer_items: int
    chunk_items: int
    frame_items: int
    executor: Executor | None = None  # where the group work runs (None: this process)

    def __post_init__(self) -> None:
        if self.mode not in MODE_CODES:
            raise InvalidParameter(f"unknown streaming mode; expected one of {', '.join(MODE_CODES)}")
        if not isinstance(self.identity, Identity) or not isinstance(self.peer, PublicIdentity):
            raise InvalidParameter("identity must be an Identity and peer a PublicIdentity")
        if self.padded_size is not None:
            _int_param(self.padded_size, "padded_size", 0, MAX_ITEMS)
        _int_param(self.max_peer_items, "max_peer_items", 0, MAX_ITEMS)
        _int_param(self.chunk_items, "chunk_items", 1, 1 << 24)
        _int_param(self.frame_items, "frame_items", 1, 1 << 20)


def party_seed(seed: bytes | None, rng: Callable[[int], bytes] | None) -> bytes:
    """The party's 32-byte seed: ``seed``, or one draw from ``rng`` (as the PSI parties take it)."""
    return _party_seed(seed, rng)


def elements_of(frame: Frame, last: bytes, what: str) -> tuple[list[bytes], bytes]:
    """The frame's 32-byte group elements, checked (canonical, not small order) and strictly above
    ``last`` and each other; returns them and the new last value."""
    body = frame.body
    elements = [body[i : i + 32] for i in range(0, len(body), 32)]
    if not elements:
        return elements, last
    validate_peer_elements(elements, what)
    v = np.frombuffer(body, dtype="S32")
    if bool((v[1:] <= v[:-1]).any()) or elements[0] <= last:
        raise UnexpectedChunk(f"{what}: elements are not in strictly ascending order")
    return elements, elements[-1]


class StreamParty:
    """Sans-I/O streaming party: :meth:`next_chunk` gives bytes to send, :meth:`receive_chunk` takes the
    peer's. Single use; after any error it is failed and its spill files are gone."""

    _role = "party"
    _direction = DIR_I2R
    _suite = STREAM_ID
    _first_expect: int | None = None

    def __init__(self, items: Iterable[bytes], params: StreamParams, seed: bytes) -> None:
        if isinstance(items, bytes | bytearray | str):
            raise InvalidParameter("items must be an iterable of bytes")
        self._items: Iterable[bytes] | None = items
        self._p = params
        self._seed = seed
        self._codec = FrameCodec(
            params.session_key, params.session_id, MODE_CODES[params.mode], self._direction, self._suite
        )
        self._transcript = Transcript(params.session_id, self._suite)
        self._executor = resolve_executor(None, params.executor)  # before the folder: a bad one leaves none
        self._spill = SpillDir(params.workdir)
        try:
            self._init_engine(seed)
        except BaseException:
            self._spill.cleanup()
            raise
        self._prepared = False
        self._out: Iterator[bytes] | None = None
        self._expect: int | None = self._first_expect
        self._index = 0
        self._total = 0
        self._last_element = b""
        self._failed = False
        self._result: StreamResult | None = None
        self._matched: Array | None = None
        self._count: int | None = None
        self._then: int | None = None  # the message type to expect once the outgoing chunks are sent
        self._peer_size = 0
        self._signatures = (b"", b"")

    def _init_engine(self, seed: bytes) -> None:
        """The engine's own state (here the DH engine's scalar and own list)."""
        label = f"blindmatch/stream/v1/{self._role}/".encode()
        self._scalar = clamp_scalar(derive_key(seed, label + b"scalar"))
        self._own = OwnList(
            self._spill,
            self._scalar,
            derive_key(seed, label + b"dummies"),
            self._p.chunk_items,
            self._executor,
        )

    def _own_sizes(self) -> tuple[int, int]:
        """(padded size, distinct items) of the own set, for the result."""
        return self._own.size, self._own.distinct

    def __enter__(self) -> StreamParty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} mode={self._p.mode} done={self.done} failed={self._failed}>"

    @property
    def spill_path(self) -> str:
        """The party's private spill folder (deleted when the party ends)."""
        return os.fspath(self._spill.path)

    @property
    def done(self) -> bool:
        return self._result is not None and self._out is None

    @property
    def failed(self) -> bool:
        return self._failed

    @property
    def prepared(self) -> bool:
        """Whether the own set is on disk (``prepare()`` ran, or the first chunk needed it)."""
        return self._prepared

    @property
    def max_chunk_bytes(self) -> int:
        """The largest chunk an honest peer sends: a transport reads no more than this per chunk."""
        return HEADER.size + 32 * self._p.frame_items + TAG_BYTES

    @property
    def result(self) -> StreamResult:
        if self._result is None:
            raise LocalProtocolError(f"the {self._role} has no result yet")
        return self._result

    def close(self) -> None:
        """Delete the spill folder; a party closed before it finished counts as failed."""
        if self._result is None:
            self._failed = True
        self._spill.cleanup()

    def _guard(self, step: Callable[[], Any]) -> Any:
        if self._failed:
            raise LocalProtocolError(f"this {self._role} failed or was closed and cannot be used again")
        try:
            return step()
        except OSError as exc:
            self._fail_cleanly()
            if exc.filename is None:  # not a file of ours (an executor's connection, say): as it came
                raise
            # a spill file went missing, the disk filled up, the folder was made read-only: the caller's
            # machine, not the peer, so a local error that names the file
            raise FileAccessError(f"spill file {exc.filename}: {exc.strerror or exc}") from None
        except BaseException:
            self._fail_cleanly()
            raise

    def _fail_cleanly(self) -> None:
        self._failed = True
        self._out = None
        self._spill.cleanup()

    def prepare(self) -> None:
        """Blind, sort and pad the own set (done on demand otherwise; may run before the peer is there)."""
        self._guard(self._prepare)

    def _prepare(self) -> None:
        if self._prepared:
            return
        items, self._items = self._items, None
        if items is None:
            raise LocalProtocolError("prepare() after a failure")
        self._build_own(items)
        self._prepared = True

    def _build_own(self, items: Iterable[bytes]) -> None:
        """The engine's own list on disk (here: blinded, sorted and padded)."""
        self._own.build(items, self._p.padded_size)

    def next_chunk(self) -> bytes | None:
        """The next chunk to send, or ``None`` when this party waits for the peer (or is done)."""
        return self._guard(self._next_chunk)  # type: ignore[no-any-return]

    def _next_chunk(self) -> bytes | None:
        if self._out is None:
            return None
        chunk = next(self._out, None)
        if chunk is None:
            self._out = None
            self._expect = self._then
            self._sent_all()
        return chunk

    def receive_chunk(self, chunk: bytes) -> None:
        """Take one chunk from the peer. Every problem with it raises a remote error."""
        self._guard(lambda: self._receive(chunk))

    def end_of_stream(self) -> None:
        """The transport closed: raises :class:`TruncatedStream` unless the exchange finished."""
        if self._result is None and not self._failed:
            self._guard(self._truncated)

    def _truncated(self) -> None:
        raise TruncatedStream("the stream ended before the exchange finished")

    def _receive(self, chunk: bytes) -> None:
        if self._out is not None:
            raise LocalProtocolError(
                "receive_chunk() before next_chunk() returned None: send every chunk of this party first"
            )
        frame = self._codec.open(chunk)
        if self._expect is None or frame.mtype != self._expect:
            raise UnexpectedChunk("a chunk of an unexpected message type")
        self._check_frame(frame)
        if frame.mtype != T_SIGNATURE:
            self._transcript.add(frame)
        self._on_frame(frame)
        if frame.final:
            self._index, self._last_element = 0, b""

    def _check_frame(self, frame: Frame) -> None:
        """The engine's framing rules for an authenticated chunk of the expected type (here: the DH
        engine's chunks of ``frame_items`` elements)."""
        if frame.index != self._index:
            raise UnexpectedChunk("a chunk out of sequence (reordered, repeated or dropped)")
        if frame.index == 0:
            self._check_total(frame.mtype, frame.total)
            self._total = frame.total
        elif frame.total != self._total:
            raise UnexpectedChunk("the message's total changed between chunks")
        self._check_count(frame)
        self._index += 1

    def _check_count(self, frame: Frame) -> None:
        f = self._p.frame_items
        if frame.mtype == T_SIGNATURE:
            if (frame.count, frame.total, frame.final) != (0, 0, True) or len(frame.body) != SIGNATURE_BYTES:
                raise MalformedChunk("a signature is one chunk of 64 bytes")
            return
        if frame.count != chunk_elements(frame.total, f, frame.index):
            raise UnexpectedChunk("a chunk's element count breaks the framing rule")
        if frame.final != (frame.index == chunk_count(frame.total, f) - 1):
            raise UnexpectedChunk("a chunk's final flag breaks the framing rule")
        size = 32 if frame.mtype in (T_REQUEST, T_ELEMENTS) else 16
        if len(frame.body) != frame.count * size:
            raise MalformedChunk("a chunk body has the wrong length")

    def _check_peer_size(self, total: int) -> None:
        if total > self._p.max_peer_items:
            raise PeerTooLarge(f"the peer's set of {total} exceeds the cap of {self._p.max_peer_items}")
        self._peer_size = total

    def _frames(self, mtype: int, bodies: Iterable[bytes], total: int, size: int) -> Iterator[bytes]:
        """Seal ``bodies`` (each exactly one chunk's elements) as message ``mtype``; adds them to the
        transcript as they go."""
        n_chunks = chunk_count(total, self._p.frame_items)
        index = 0
        for body in bodies:
            frame = self._codec.seal(mtype, index, index == n_chunks - 1, len(body) // size, total, body)
            self._transcript.add(frame)
            index += 1
            yield self._codec.wire(frame)
        if index != n_chunks:
            raise LocalProtocolError("internal: a message did not fill its chunks")

    def _send(self, chunks: Iterator[bytes], then: int | None) -> None:
        self._out, self._expect, self._then = chunks, None, then

    def _join(self, theirs: Partitions, mine: Partitions) -> None:
        positions = join(theirs, mine)
        if self._p.mode in COUNT_ONLY_MODES:
            self._count = len(positions)  # the peer's list is sorted by hash: positions say nothing
        else:
            self._matched, self._count = self._own.indices(positions)

    def _signature_chunk(self) -> Iterator[bytes]:
        sig = self._p.identity.sign(self._payload(self._role_code()))
        self._signatures = (sig, b"") if self._role_code() == 1 else (self._signatures[0], sig)
        yield self._codec.wire(self._codec.seal(T_SIGNATURE, 0, True, 0, 0, sig))

    def _verify_peer(self, sig: bytes) -> None:
        peer_code = 3 - self._role_code()
        if not self._p.peer.verify(sig, self._payload(peer_code)):
            raise BadSignature("the peer's signature over the transcript does not verify")
        self._signatures = (sig, self._signatures[1]) if peer_code == 1 else (self._signatures[0], sig)

    def _payload(self, role_code: int) -> bytes:
        own, peer = self._p.identity.public, self._p.peer
        ini, res = (own, peer) if self._role_code() == 1 else (peer, own)
        return signed_payload(role_code, self._p.session_id, ini, res, self._transcript.digest(), self._suite)

    def _finish(self) -> None:
        own_size, distinct = self._own_sizes()
        self._result = StreamResult(
            self._p.mode, self._matched, self._count, own_size, self._peer_size, distinct,
            self._transcript.digest(), *self._signatures,
        )  # fmt: skip
        self._expect = None
        self._spill.cleanup()

    # --- per role ---

    def _role_code(self) -> int:
        raise NotImplementedError

    def _check_total(self, mtype: int, total: int) -> None:
        raise NotImplementedError

    def _on_frame(self, frame: Frame) -> None:
        raise NotImplementedError

    def _sent_all(self) -> None:
        """Called once the outgoing chunks are all taken."""
