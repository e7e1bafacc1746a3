"""Sans-I/O session parties: :class:`InitiatorSession` and :class:`ResponderSession`.

Both have the same driver interface, so a transport (memory, files, TCP) only moves bytes::

    out = initiator.start()                  # initiator only: the hello
    while out is not None:
        out = peer.receive(out)              # the reply to send back, or None
        ...                                  # (alternate between the two parties)
    party.done, party.result, party.record()

Message flow (docs/sessions.md)::

    seq 0  I -> R  hello   signed, clear: manifest, ephemeral X25519 key, initiator's padded size
    seq 1  R -> I  accept  signed, clear: ephemeral X25519 key, responder's padded size
           R -> I  refuse  signed, clear: reason (instead of accept; the session ends)
    seq 2  I -> R  data    signed, encrypted: PSI request
    seq 3  R -> I  data    signed, encrypted: PSI response
    seq 4  I -> R  data    signed, encrypted: PSI confirm (mutual modes only)
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, MutableSet, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from .._progress import ProgressCallback
from .._version import __version__
from ..errors import CapacityError, InvalidParameter, LocalProtocolError
from ..psi import Initiator as PsiInitiator
from ..psi import Mode, PeerTooLarge, confirm_size, indicator_item, request_size, response_size
from ..psi import Responder as PsiResponder
from ._canonjson import canonical_json
from .channel import (
    HEADER_BYTES,
    ROLE_INITIATOR,
    ROLE_RESPONDER,
    SIGNATURE_BYTES,
    T_ACCEPT,
    T_DATA,
    T_HELLO,
    T_REFUSE,
    TAG_BYTES,
    TYPE_NAMES,
    Header,
    Message,
    Opener,
    Sealer,
    Transcript,
    new_ephemeral,
    pack_header,
    parse_header,
    sign_message,
    signed_bytes,
    split_message,
    traffic_keys,
    x25519_shared,
)
from .errors import (
    BadSignature,
    CapExceeded,
    Expired,
    MalformedMessage,
    OutOfOrder,
    PaddingViolation,
    Reflected,
    Refused,
    Replayed,
    TranscriptMismatch,
    UnknownPeer,
    WrongPeer,
    WrongSession,
)
from .identity import Identity, PublicIdentity
from .manifest import CHANNEL_SUITE, PROTOCOL, PSI_SUITE, Manifest, Policy
from .padding import DUMMY_PREFIX, conforms, make_dummies, padded_size
from .peers import PeerStore
from .record import RECORD_FORMAT, RECORD_VERSION, iso_time, sign_record

__all__ = ["InitiatorSession", "ResponderSession", "SessionParty", "SessionResult", "run_session_in_memory"]

Rng = Callable[[int], bytes]
Clock = Callable[[], float]
_ROLE_NAMES = {ROLE_INITIATOR: "initiator", ROLE_RESPONDER: "responder"}
MAX_HANDSHAKE_BODY = 16 * 1024


class _State(enum.Enum):
    NEW = "new"
    AWAIT_HELLO = "awaiting hello"
    AWAIT_ACCEPT = "awaiting accept"
    AWAIT_DATA = "awaiting data"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class SessionResult:
    """The local report of a completed session (never shared: it may hold the matched indicators).

    ``learned`` is ``"intersection"``, ``"count"`` or ``"nothing"``. ``matched`` lists the own
    ``(kind, canonical)`` indicators that are shared (sessions built from ``items_by_kind``), and
    ``matched_items`` the own item byte strings that are shared (every session); both are ``None`` unless
    this party learns the intersection. ``count`` is ``None`` when this party learns nothing. Sizes are
    distinct items; the padded ones are the only sizes the peer saw or showed.
    """

    role: str
    session_id: bytes
    mode: str
    learned: str
    matched: list[tuple[str, str]] | None
    matched_items: list[bytes] | None
    count: int | None
    own_size: int
    own_padded_size: int
    peer_padded_size: int
    transcript_hash: bytes
    peer: PublicIdentity
    peer_name: str | None
    manifest: Manifest


class SessionParty(Protocol):
    """The driver interface both roles share; transports depend on this only."""

    @property
    def role(self) -> str: ...
    @property
    def done(self) -> bool: ...
    @property
    def failed(self) -> bool: ...
    @property
    def result(self) -> SessionResult | None: ...
    def receive(self, data: bytes) -> bytes | None: ...
    def record(self) -> dict[str, Any]: ...


def _distinct(items: Iterable[bytes]) -> list[bytes]:
    seen: set[bytes] = set()
    out: list[bytes] = []
    for it in items:
        if not isinstance(it, bytes):
            raise InvalidParameter("items must be bytes")
        if it.startswith(DUMMY_PREFIX):
            raise InvalidParameter("an item starts with the reserved dummy prefix")
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out


def _indicator_items(
    items_by_kind: Mapping[str, Iterable[str]], kinds: Iterable[str]
) -> tuple[list[bytes], dict[bytes, tuple[str, str]]]:
    """Distinct items of the given kinds, and the map back to ``(kind, canonical)``."""
    back: dict[bytes, tuple[str, str]] = {}
    out: list[bytes] = []
    for kind in kinds:
        for value in items_by_kind.get(kind, ()):
            it = indicator_item(kind, value)
            if it not in back:
                back[it] = (kind, value)
                out.append(it)
    return out, back


def _check_rng_clock(rng: Rng, clock: Clock) -> None:
    if not callable(rng) or not callable(clock):
        raise InvalidParameter("rng and clock must be callables")


class _Party:
    """What both roles share: framing checks, transcript, signing, sealing, failure handling, records."""

    _role: int

    def __init__(
        self,
        identity: Identity,
        rng: Rng,
        clock: Clock,
        workers: int,
        progress: ProgressCallback | None = None,
    ) -> None:
        if not isinstance(identity, Identity):
            raise TypeError("identity must be an Identity")
        _check_rng_clock(rng, clock)
        if not isinstance(workers, int) or workers < 1:
            raise InvalidParameter("workers must be a positive integer")
        if progress is not None and not callable(progress):
            raise InvalidParameter("progress must be a callable (stage, done, total) or None")
        self._progress = progress
        self._identity = identity
        self._rng = rng
        self._clock = clock
        self._workers = workers
        self._state = _State.NEW
        self._transcript = Transcript()
        self._count = 0
        self._manifest: Manifest | None = None
        self._session_id: bytes | None = None
        self._peer_key: bytes | None = None
        self._peer_name: str | None = None
        self._sealer: Sealer | None = None
        self._opener: Opener | None = None
        self._own_size: int | None = None
        self._own_padded: int | None = None
        self._peer_padded: int | None = None
        self._own_set_sent = False
        self._result: SessionResult | None = None
        self._outcome = "pending"
        self._reason: str | None = None
        self._error: str | None = None
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._bytes_sent = 0
        self._bytes_received = 0
        self._messages_sent = 0

    # -- public state ------------------------------------------------------------------------------------
    @property
    def role(self) -> str:
        return _ROLE_NAMES[self._role]

    @property
    def done(self) -> bool:
        """True once the session ended, successfully or not (nothing more to send or receive)."""
        return self._state in (_State.DONE, _State.FAILED)

    @property
    def failed(self) -> bool:
        return self._state is _State.FAILED

    @property
    def result(self) -> SessionResult | None:
        """The local report once the session completed; ``None`` before, after a refusal or a failure."""
        return self._result

    @property
    def manifest(self) -> Manifest | None:
        return self._manifest

    @property
    def peer_name(self) -> str | None:
        """The peer's name (trust-store name for a responder, once the hello was verified)."""
        return self._peer_name

    @property
    def max_next_message(self) -> int:
        """The longest message this party can accept next (0 when it expects none), known before it is
        read: a transport refuses a longer frame from its header. A handshake message is at most a header,
        ``MAX_HANDSHAKE_BODY`` and a signature; a data message has exactly the length the declared sizes
        give."""
        if self._state in (_State.AWAIT_HELLO, _State.AWAIT_ACCEPT):
            return HEADER_BYTES + MAX_HANDSHAKE_BODY + SIGNATURE_BYTES
        if self._state is _State.AWAIT_DATA:
            return HEADER_BYTES + self._expected_payload() + TAG_BYTES + SIGNATURE_BYTES
        return 0

    @property
    def transcript_hash(self) -> bytes:
        """Hash of every message sent and received so far (the same on both sides once done)."""
        return self._transcript.hash

    # -- driver ------------------------------------------------------------------------------------------
    def receive(self, data: bytes) -> bytes | None:
        """Process one message from the peer; return the message to send back, if any.

        A bad message raises a :class:`~blindmatch.session.errors.SessionError` (or another
        ``RemoteProtocolError`` from the PSI core); the party is then dead and sends nothing more.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes")
        if self._state is _State.FAILED:
            raise LocalProtocolError("this session failed; start a new one")
        if self._state is _State.DONE:
            raise LocalProtocolError("this session is over")
        if self._state is _State.NEW:
            raise LocalProtocolError("call start() first")
        try:
            self._bytes_received += len(data)
            out = self._receive(bytes(data))
        except BaseException as exc:
            self._fail(exc)
            raise
        return out

    def _receive(self, data: bytes) -> bytes | None:
        raise NotImplementedError

    def abort(self, reason: str) -> None:
        """End the session here, for a reason outside the messages (the peer disconnected or stalled,
        a frame was too large, the operator gave up).

        The party is dead afterwards: keys and the PSI state are dropped, nothing more is sent, and any
        further call raises :class:`~blindmatch.LocalProtocolError`. :meth:`record` then gives a signed
        record with outcome ``failed`` (error ``aborted``) and ``reason``. Aborting a session that is
        already over raises :class:`~blindmatch.LocalProtocolError`.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidParameter("reason must be a non-empty str")
        if self._state is _State.FAILED:
            raise LocalProtocolError("this session failed already")
        if self._state is _State.DONE:
            raise LocalProtocolError("this session is over")
        self._state = _State.FAILED
        self._outcome = "failed"
        self._reason = " ".join(reason.split())[:500]
        self._error = "aborted"
        self._ended_at = self._clock()
        if self._started_at is None:
            self._started_at = self._ended_at
        self._forget()

    def _fail(self, exc: BaseException) -> None:
        self._state = _State.FAILED
        self._outcome = "refused" if isinstance(exc, Refused) else "failed"
        self._reason = str(exc)[:500] or type(exc).__name__
        self._error = type(exc).__name__
        self._ended_at = self._clock()
        self._forget()

    def _forget(self) -> None:
        """Drop keys and the PSI party: nothing of the local set can be sent any more."""
        self._sealer = None
        self._opener = None
        self._drop_psi()

    def _drop_psi(self) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        self._state = _State.DONE
        self._outcome = "completed"
        self._ended_at = self._clock()
        self._forget()

    # -- sending -----------------------------------------------------------------------------------------
    def _send(self, msg_type: int, body: bytes) -> bytes:
        if self._session_id is None:
            raise LocalProtocolError("no session id yet")
        if msg_type == T_DATA:
            if self._sealer is None:
                raise LocalProtocolError("no traffic keys")
            header = pack_header(
                msg_type,
                self._role,
                self._count,
                self._session_id,
                self._transcript.hash,
                self._identity.public.raw,
                len(body) + TAG_BYTES,
            )
            body = self._sealer.seal(header, body)
        else:
            header = pack_header(
                msg_type,
                self._role,
                self._count,
                self._session_id,
                self._transcript.hash,
                self._identity.public.raw,
                len(body),
            )
        wire = sign_message(self._identity, header, body)
        self._transcript.add(wire)
        self._count += 1
        self._bytes_sent += len(wire)
        self._messages_sent += 1
        return wire

    # -- receiving ---------------------------------------------------------------------------------------
    def _check(self, data: bytes, expected: tuple[int, ...], max_body: int) -> Message:
        """Every check on an incoming message, cheapest first, before any payload is used."""
        header = parse_header(data)
        self._check_header(header, expected, max_body)
        msg = split_message(data, header)
        self._verify(msg, header.sender_key)
        self._check_time()
        self._transcript.add(msg.wire)
        self._count += 1
        return msg

    def _check_header(self, header: Header, expected: tuple[int, ...], max_body: int) -> None:
        if header.role == self._role:
            raise Reflected(f"got a {TYPE_NAMES[header.msg_type]} message sent by our own role ({self.role})")
        if self._session_id is not None and header.session_id != self._session_id:
            raise WrongSession("the message belongs to another session (session id differs)")
        if self._peer_key is not None and header.sender_key != self._peer_key:
            raise WrongPeer("the message is signed by another identity than this session's peer")
        if header.seq < self._count:
            raise Replayed(f"message number {header.seq} was already received (replay)")
        if header.seq > self._count or header.msg_type not in expected:
            raise OutOfOrder(
                f"expected message number {self._count} "
                f"({' or '.join(TYPE_NAMES[t] for t in expected)}), got number {header.seq} "
                f"({TYPE_NAMES[header.msg_type]})"
            )
        if header.prev_hash != self._transcript.hash:
            raise TranscriptMismatch("the message is bound to another transcript (replayed from another run)")
        if header.msg_type == T_DATA:
            if header.body_len > max_body:
                raise CapExceeded(
                    f"a {header.body_len}-byte payload exceeds what the declared sizes give ({max_body})"
                )
            if header.body_len < max_body:
                raise PaddingViolation(
                    f"a {header.body_len}-byte payload is short of what the declared sizes give ({max_body})"
                )
        elif header.body_len > max_body:
            raise MalformedMessage(f"handshake message body too large ({header.body_len} bytes)")

    def _verify(self, msg: Message, key: bytes) -> None:
        if not PublicIdentity(key).verify(msg.signature, signed_bytes(msg.signed)):
            raise BadSignature(
                f"the signature on the {TYPE_NAMES[msg.header.msg_type]} message does not verify"
            )

    def _check_time(self) -> None:
        m = self._manifest
        if m is not None:
            now = self._clock()
            skew = self._skew()
            if now > m.not_after + skew:
                raise Expired("the session's validity window is over")
            if now < m.not_before - skew:
                raise Expired("the session's validity window has not begun")

    def _skew(self) -> int:
        return 0

    def _expected_payload(self) -> int:
        """Exact length of the next PSI payload for the declared sizes (computed before any crypto)."""
        m = self._manifest
        if m is None or self._own_padded is None or self._peer_padded is None:
            raise LocalProtocolError("no manifest")
        if self._role == ROLE_INITIATOR:  # the response: our list re-blinded (hashes) and theirs blinded
            return response_size(self._own_padded, self._peer_padded)
        if self._count == 2:  # the request: their blinded list
            return request_size(self._peer_padded)
        return confirm_size(self._own_padded)  # the confirm: hashes of our list

    def _open(self, msg: Message) -> bytes:
        if self._opener is None:
            raise LocalProtocolError("no traffic keys")
        return self._opener.open(msg.header.raw, msg.body)

    def _check_declared_size(self, size: Any, peer_role: str) -> int:
        m = self._manifest
        if m is None:
            raise LocalProtocolError("no manifest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise MalformedMessage("padded_size must be a non-negative integer")
        cap = m.cap_of(peer_role)
        if size > cap:
            raise CapExceeded(f"the {peer_role} declares {size} items, more than the agreed cap of {cap}")
        if not conforms(m.padding, size, cap):
            raise PaddingViolation(
                f"the {peer_role}'s size {size} does not follow padding rule {m.padding!r}"
            )
        return size

    @staticmethod
    def _json_body(msg: Message) -> dict[str, Any]:
        try:
            doc = json.loads(msg.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedMessage(f"{TYPE_NAMES[msg.header.msg_type]} body is not JSON") from None
        if not isinstance(doc, dict):
            raise MalformedMessage(f"{TYPE_NAMES[msg.header.msg_type]} body is not a JSON object")
        return doc

    @staticmethod
    def _ephemeral_of(doc: Mapping[str, Any]) -> bytes:
        eph = doc.get("ephemeral")
        if not isinstance(eph, str) or len(eph) != 64 or eph != eph.lower():
            raise MalformedMessage("ephemeral key must be 64 lowercase hex digits")
        try:
            return bytes.fromhex(eph)
        except ValueError:
            raise MalformedMessage("ephemeral key must be 64 lowercase hex digits") from None

    def _psi_call(self, fn: Callable[[bytes], bytes | None], payload: bytes) -> bytes | None:
        try:
            return fn(payload)
        except PeerTooLarge as exc:
            raise CapExceeded(f"the peer's list is larger than it declared: {exc}") from None

    def _make_result(self, psi_result: Any, items_back: dict[bytes, tuple[str, str]] | None) -> SessionResult:
        m = self._manifest
        if m is None or self._peer_key is None or self._own_padded is None or self._peer_padded is None:
            raise LocalProtocolError("no manifest")
        learned = m.learns(self.role)
        matched: list[tuple[str, str]] | None = None
        matched_items: list[bytes] | None = None
        count: int | None = None
        if psi_result is not None and psi_result.peer_size != self._peer_padded:
            raise PaddingViolation(
                f"the peer sent {psi_result.peer_size} items but declared {self._peer_padded}"
            )
        if psi_result is not None and learned != "nothing":
            count = int(psi_result.count)
            if learned == "intersection":
                matched_items = _distinct_real(psi_result.matched or [])
                count = len(matched_items)
                if items_back is not None:
                    matched = [items_back[it] for it in matched_items]
        return SessionResult(
            role=self.role,
            session_id=m.session_id,
            mode=m.mode,
            learned=learned,
            matched=matched,
            matched_items=matched_items,
            count=count,
            own_size=self._own_size or 0,
            own_padded_size=self._own_padded,
            peer_padded_size=self._peer_padded,
            transcript_hash=self._transcript.hash,
            peer=PublicIdentity(self._peer_key),
            peer_name=self._peer_name,
            manifest=m,
        )

    # -- record ------------------------------------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        """The signed disclosure record of this party (after the session ended, failed or was aborted)."""
        if self._state is _State.NEW:
            raise LocalProtocolError("no session has started")
        if not self.done:
            raise LocalProtocolError("the session is still running")
        return sign_record(self._identity, self._record_body())

    def _record_body(self) -> dict[str, Any]:
        m = self._manifest
        me, other = self.role, ("responder" if self._role == ROLE_INITIATOR else "initiator")
        sizes = {me + "_padded": self._own_padded, other + "_padded": self._peer_padded}
        learned: dict[str, Any] = {}
        res = self._result
        for role in ("initiator", "responder"):
            what = m.learns(role) if m is not None else None
            count: int | None = None
            if res is not None and what != "nothing":
                if role == me:
                    count = res.count
                elif m is not None and m.mode.startswith("mutual"):
                    count = res.count  # both compute the same count in the mutual modes
            learned[role] = {"learns": what, "count": count}
        peer_fp = PublicIdentity(self._peer_key).fingerprint if self._peer_key is not None else None
        return {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "role": me,
            "session_id": self._session_id.hex() if self._session_id is not None else None,
            "self": {
                "fingerprint": self._identity.fingerprint,
                "public_key": self._identity.public.to_text(),
            },
            "peer": {
                "fingerprint": peer_fp,
                "public_key": PublicIdentity(self._peer_key).to_text()
                if self._peer_key is not None
                else None,
                "name": self._peer_name,
            },
            "purpose": m.purpose if m is not None else None,
            "mode": m.mode if m is not None else None,
            "kinds": list(m.kinds) if m is not None else None,
            **({"prompt_profile": m.prompt_profile} if m is not None and m.prompt_profile else {}),
            "padding": m.padding if m is not None else None,
            "caps": (
                {"initiator": m.max_items_initiator, "responder": m.max_items_responder}
                if m is not None
                else None
            ),
            "padded_sizes": {"initiator": sizes["initiator_padded"], "responder": sizes["responder_padded"]},
            "learned": learned,
            "own_set_sent": self._own_set_sent,
            "transcript_hash": self._transcript.hash.hex(),
            "messages": self._count,
            "wire_bytes": {"sent": self._bytes_sent, "received": self._bytes_received},
            "times": {
                "started": iso_time(self._started_at),
                "ended": iso_time(self._ended_at),
                "not_before": iso_time(m.not_before) if m is not None else None,
                "not_after": iso_time(m.not_after) if m is not None else None,
            },
            "versions": {
                "library": __version__,
                "protocol": PROTOCOL,
                "channel_suite": CHANNEL_SUITE,
                "psi_suite": PSI_SUITE,
                "peer_library": m.library_version if m is not None and self._role == ROLE_RESPONDER else None,
            },
            "outcome": {"status": self._outcome, "error": self._error, "reason": self._reason},
        }


def _distinct_real(items: Iterable[bytes]) -> list[bytes]:
    """Matched items without dummies (they never match, but a result never shows one) and repeats."""
    seen: set[bytes] = set()
    out: list[bytes] = []
    for it in items:
        if not it.startswith(DUMMY_PREFIX) and it not in seen:
            seen.add(it)
            out.append(it)
    return out


class InitiatorSession(_Party):
    """The party that proposes the manifest and sends the first message.

    Items are given either as ``items_by_kind`` (``{kind: canonical values}``, mapped with
    :func:`blindmatch.psi.indicator_item`) or as raw ``items`` (byte strings). ``kinds`` defaults to the
    keys of ``items_by_kind`` (``("bytes",)`` for raw items). ``max_items`` is one cap for both sides or
    ``(initiator_cap, responder_cap)``. Pass ``manifest=`` instead of the manifest parameters to propose
    a manifest built elsewhere (its keys must be ours and the peer's). ``prompt_profile`` names the
    fingerprint profile of ``prompt-band`` items in the manifest (see :class:`Manifest`). ``progress``
    (``progress(stage, done, total)``, see :mod:`blindmatch.psi`) is handed to the PSI party; padding
    dummies are counted in its totals.
    """

    _role = ROLE_INITIATOR

    def __init__(
        self,
        identity: Identity,
        peer: PublicIdentity | bytes,
        *,
        items_by_kind: Mapping[str, Iterable[str]] | None = None,
        items: Iterable[bytes] | None = None,
        mode: str = "intersection",
        kinds: Iterable[str] | None = None,
        max_items: int | tuple[int, int] | None = None,
        padding: str = "pow2",
        purpose: str | None = None,
        validity_s: int = 3600,
        manifest: Manifest | None = None,
        peer_name: str | None = None,
        rng: Rng = os.urandom,
        clock: Clock = time.time,
        workers: int = 1,
        prompt_profile: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(identity, rng, clock, workers, progress)
        if isinstance(peer, bytes | bytearray):
            peer = PublicIdentity(bytes(peer))
        if not isinstance(peer, PublicIdentity):
            raise TypeError("peer must be a PublicIdentity or 32 bytes")
        if (items_by_kind is None) == (items is None):
            raise InvalidParameter("give exactly one of items_by_kind and items")
        self._back: dict[bytes, tuple[str, str]] | None = None
        if items_by_kind is not None:
            if kinds is None:
                kinds = sorted(items_by_kind)
            kinds = tuple(sorted(set(kinds)))
            extra = [k for k in items_by_kind if k not in kinds]
            if extra:
                raise InvalidParameter(f"items of kinds outside the manifest: {', '.join(sorted(extra))}")
            real, self._back = _indicator_items(items_by_kind, kinds)
        else:
            if items is None:  # pragma: no cover - excluded above
                raise InvalidParameter("no items")
            real = _distinct(items)
            kinds = tuple(sorted(set(kinds))) if kinds is not None else ("bytes",)
        if manifest is None:
            if max_items is None or purpose is None:
                raise InvalidParameter("max_items and purpose are required (or pass a manifest)")
            manifest = Manifest.propose(
                initiator=identity.public,
                responder=peer,
                mode=mode,
                kinds=kinds,
                max_items=max_items,
                padding=padding,
                purpose=purpose,
                validity_s=validity_s,
                rng=rng,
                clock=clock,
                prompt_profile=prompt_profile,
            )
        elif manifest.initiator_key != identity.public.raw or manifest.responder_key != peer.raw:
            raise InvalidParameter("the manifest names other identities than this session's")
        elif not set(kinds) <= set(manifest.kinds):
            raise InvalidParameter("the items' kinds are not all in the manifest")
        self._manifest = manifest
        self._session_id = manifest.session_id
        self._peer_key = peer.raw
        self._peer_name = peer_name
        self._own_size = len(real)
        self._own_padded = padded_size(manifest.padding, len(real), manifest.max_items_initiator)
        self._real = real
        self._psi: PsiInitiator | None = None
        self._eph: Any = None

    def _drop_psi(self) -> None:
        self._psi = None
        self._eph = None
        self._real = []

    def start(self) -> bytes:
        """The hello message (signed manifest and ephemeral key). Call once."""
        if self._state is not _State.NEW:
            raise LocalProtocolError("start() can be called only once")
        m = self._manifest
        if m is None:  # pragma: no cover - set in __init__
            raise LocalProtocolError("no manifest")
        now = self._clock()
        if not m.not_before <= now <= m.not_after:
            raise InvalidParameter("the manifest is not valid at the current time")
        self._started_at = now
        self._eph, eph_pub = new_ephemeral(self._rng(32))
        body = canonical_json(
            {"manifest": m.to_dict(), "ephemeral": eph_pub.hex(), "padded_size": self._own_padded}
        )
        self._state = _State.AWAIT_ACCEPT
        return self._send(T_HELLO, body)

    def _receive(self, data: bytes) -> bytes | None:
        if self._state is _State.AWAIT_ACCEPT:
            msg = self._check(data, (T_ACCEPT, T_REFUSE), MAX_HANDSHAKE_BODY)
            doc = self._json_body(msg)
            if msg.header.msg_type == T_REFUSE:
                reason = doc.get("reason")
                if not isinstance(reason, str):
                    raise MalformedMessage("refusal without a reason")
                raise Refused(reason[:500])
            return self._on_accept(doc)
        if self._state is _State.AWAIT_DATA:
            msg = self._check(data, (T_DATA,), self._expected_payload() + TAG_BYTES)
            return self._on_response(self._open(msg))
        raise LocalProtocolError(f"not expecting a message in state {self._state.value}")

    def _on_accept(self, doc: dict[str, Any]) -> bytes:
        m = self._manifest
        if m is None or self._eph is None:
            raise LocalProtocolError("no manifest")
        eph_peer = self._ephemeral_of(doc)
        self._peer_padded = self._check_declared_size(doc.get("padded_size"), "responder")
        i2r, r2i = traffic_keys(x25519_shared(self._eph, eph_peer), self._transcript.hash)
        self._eph = None
        self._sealer, self._opener = Sealer(i2r), Opener(r2i)
        own = self._real + make_dummies((self._own_padded or 0) - len(self._real), self._rng)
        self._psi = PsiInitiator(
            own, cast("Mode", m.mode), rng=self._rng, workers=self._workers,
            max_peer_items=self._peer_padded, progress=self._progress,
        )  # fmt: skip
        request = self._psi.start()
        self._state = _State.AWAIT_DATA
        out = self._send(T_DATA, request)
        self._own_set_sent = True
        return out

    def _on_response(self, payload: bytes) -> bytes | None:
        psi = self._psi
        if psi is None:
            raise LocalProtocolError("no PSI party")
        confirm = self._psi_call(psi.finish, payload)
        result = self._make_result(psi.result, self._back)  # checks sizes before anything is sent
        out = self._send(T_DATA, confirm) if confirm is not None else None
        self._result = dataclasses.replace(result, transcript_hash=self._transcript.hash)
        self._finish()
        return out


class ResponderSession(_Party):
    """The party that checks the proposed manifest against its :class:`Policy` and answers.

    ``peers`` is the trust store: a hello signed by any other key raises ``UnknownPeer``. Only the items
    of the kinds the manifest names take part. All our distinct items together must fit under the
    policy's ``max_items_responder`` (else ``CapacityError`` here, before anything is sent).
    ``seen_session_ids`` (optional, shared between sessions)
    lets the responder reject a replayed hello within its validity window. ``progress`` is handed to the
    PSI party, as for :class:`InitiatorSession`.
    """

    _role = ROLE_RESPONDER

    def __init__(
        self,
        identity: Identity,
        peers: PeerStore,
        policy: Policy | None = None,
        *,
        items_by_kind: Mapping[str, Iterable[str]] | None = None,
        items: Iterable[bytes] | None = None,
        seen_session_ids: MutableSet[bytes] | None = None,
        rng: Rng = os.urandom,
        clock: Clock = time.time,
        workers: int = 1,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(identity, rng, clock, workers, progress)
        if not isinstance(peers, PeerStore):
            raise TypeError("peers must be a PeerStore")
        if (items_by_kind is None) == (items is None):
            raise InvalidParameter("give exactly one of items_by_kind and items")
        self._peers = peers
        self._policy = policy if policy is not None else Policy()
        self._items_by_kind: dict[str, Sequence[str]] | None = None
        self._raw = _distinct(items) if items is not None else None
        cap = self._policy.max_items_responder
        if items_by_kind is not None:  # lists are kept, not copied (a server makes a party per connection)
            self._items_by_kind = {
                k: v if isinstance(v, list | tuple) else list(v) for k, v in items_by_kind.items()
            }
            total = sum(len(v) for v in self._items_by_kind.values())
            if total > cap:  # repeats count once
                total = sum(len(set(v)) for v in self._items_by_kind.values())
        else:
            total = len(self._raw or ())
        if total > cap:  # checked here, once: the accept/refuse decision never looks at our set's size
            raise CapacityError(f"our {total} distinct items exceed our own cap of {cap} (the policy's)")
        self._seen = seen_session_ids
        self._back: dict[bytes, tuple[str, str]] | None = None
        self._psi: PsiResponder | None = None
        self._state = _State.AWAIT_HELLO
        self.refusal_reason: str | None = None

    def _drop_psi(self) -> None:
        self._psi = None
        self._raw = None
        self._items_by_kind = None

    def _skew(self) -> int:
        return self._policy.clock_skew_s

    def _receive(self, data: bytes) -> bytes | None:
        if self._state is _State.AWAIT_HELLO:
            return self._on_hello(data)
        if self._state is _State.AWAIT_DATA:
            msg = self._check(data, (T_DATA,), self._expected_payload() + TAG_BYTES)
            return self._on_data(self._open(msg))
        raise LocalProtocolError(f"not expecting a message in state {self._state.value}")

    def _on_hello(self, data: bytes) -> bytes:
        self._started_at = self._clock()
        header = parse_header(data)
        if header.role == self._role:
            raise Reflected("got a hello sent by a responder")
        peer = self._peers.lookup_key(header.sender_key)
        if peer is None:
            raise UnknownPeer(
                f"the hello is signed by an unknown key ({PublicIdentity(header.sender_key).fingerprint})"
            )
        self._check_header(header, (T_HELLO,), MAX_HANDSHAKE_BODY)
        msg = split_message(data, header)
        self._verify(msg, header.sender_key)
        doc = self._json_body(msg)
        manifest = Manifest.from_dict(doc.get("manifest"))  # type: ignore[arg-type]
        if manifest.initiator_key != header.sender_key:
            raise WrongPeer("the manifest names another initiator than the hello's signer")
        if manifest.responder_key != self._identity.public.raw:
            raise WrongPeer("the manifest is addressed to another responder")
        if manifest.session_id != header.session_id:
            raise MalformedMessage("the hello's session id differs from its manifest's")
        if self._seen is not None and manifest.session_id in self._seen:
            raise Replayed("this session id was used before (replayed hello)")
        self._manifest = manifest
        self._session_id = manifest.session_id
        self._peer_key = header.sender_key
        self._check_time()
        # authenticated and fresh from here on (a server counts the session now): a replayed or expired
        # hello, which anyone who saw the traffic can send, must not count
        self._peer_name = peer.name
        if self._seen is not None:
            self._seen.add(manifest.session_id)
        eph_peer = self._ephemeral_of(doc)
        self._peer_padded = self._check_declared_size(doc.get("padded_size"), "initiator")
        self._transcript.add(msg.wire)
        self._count += 1

        # the decision comes first, from the manifest and the policy only (not even the time it takes to
        # collect our items may depend on their number)
        reason = self._policy.refusal(manifest, peer.name)
        if reason is not None:
            self.refusal_reason = reason
            out = self._send(T_REFUSE, canonical_json({"reason": reason}))
            self._state = _State.DONE
            self._outcome = "refused"
            self._reason = reason
            self._ended_at = self._clock()
            self._forget()
            return out
        if self._raw is not None:
            real = self._raw
        else:
            if self._items_by_kind is None:  # pragma: no cover - one of them is set
                raise LocalProtocolError("no items")
            real, self._back = _indicator_items(self._items_by_kind, manifest.kinds)
        self._own_size = len(real)
        self._own_padded = padded_size(manifest.padding, len(real), manifest.max_items_responder)
        eph, eph_pub = new_ephemeral(self._rng(32))
        shared = x25519_shared(eph, eph_peer)  # a small-order key fails here, before the accept is sent
        own = real + make_dummies(self._own_padded - len(real), self._rng)
        out = self._send(
            T_ACCEPT, canonical_json({"ephemeral": eph_pub.hex(), "padded_size": self._own_padded})
        )
        r_i2r, r_r2i = traffic_keys(shared, self._transcript.hash)
        self._opener, self._sealer = Opener(r_i2r), Sealer(r_r2i)
        self._psi = PsiResponder(
            own,
            allowed_modes=(cast("Mode", manifest.mode),),
            rng=self._rng,
            workers=self._workers,
            max_peer_items=self._peer_padded,
            progress=self._progress,
        )
        self._state = _State.AWAIT_DATA
        return out

    def _on_data(self, payload: bytes) -> bytes | None:
        psi, m = self._psi, self._manifest
        if psi is None or m is None:
            raise LocalProtocolError("no PSI party")
        if self._count == 3:  # the request (message number 2) was just received
            response = self._psi_call(psi.respond, payload)
            if response is None:
                raise LocalProtocolError("the PSI responder returned no response")
            result = None if m.mode.startswith("mutual") else self._make_result(psi.result, self._back)
            out = self._send(T_DATA, response)
            self._own_set_sent = True
            if result is not None:
                self._result = dataclasses.replace(result, transcript_hash=self._transcript.hash)
                self._finish()
            return out
        self._psi_call(psi.finish, payload)
        self._result = self._make_result(psi.result, self._back)
        self._finish()
        return None


def run_session_in_memory(
    initiator: InitiatorSession,
    responder: ResponderSession,
    *,
    tap: Callable[[str, bytes], None] | None = None,
) -> list[bytes]:
    """Run both parties to the end over a perfect in-memory link; return every wire message in order.

    ``tap(direction, message)`` sees each message (``"i2r"`` or ``"r2i"``) before it is delivered.
    Errors propagate from the party that raised them.
    """
    wire: list[bytes] = []
    msg: bytes | None = initiator.start()
    sender: _Party = initiator
    while msg is not None:
        wire.append(msg)
        receiver: _Party = responder if sender is initiator else initiator
        if tap is not None:
            tap("i2r" if sender is initiator else "r2i", msg)
        msg = receiver.receive(msg)
        sender = receiver
    return wire
