"""What both session roles share: the event loop over the transition table (``_states``), the checks on
every incoming message, sending, failure handling, the PSI boundary and the record summary."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._derive import seed_once
from .._progress import ProgressCallback
from .._strictjson import DuplicateKeyError, object_without_duplicates
from .._text import safe_text
from ..errors import InvalidParameter, LocalProtocolError
from ..executors import Executor
from ..hazmat.group import InvalidGroupElement
from ..hazmat.ot import InvalidOtMessage
from ..psi import MalformedMessage as PsiMalformedMessage
from ..psi import ModeNotAllowed, PeerTooLarge, UnexpectedMessage
from ._canonjson import canonical_json
from ._phases import Established, Facts, Listening, Opening, Proposal
from ._saved import SavedState, params_hash
from ._states import EVENT_OF_TYPE, TERMINAL, Event, SessionState, Transition, message_types
from .audit_package import AuditContents, package_sha256, seal_package
from .channel import (
    HEADER_BYTES,
    ROLE_INITIATOR,
    ROLE_RESPONDER,
    SIGNATURE_BYTES,
    T_DATA,
    TAG_BYTES,
    TYPE_NAMES,
    Header,
    Message,
    Sealer,
    Transcript,
    check_order,
    pack_header,
    parse_header,
    sign_message,
    signed_bytes,
    split_message,
)
from .commitment import COMMITMENT_BYTES, commitment, selected_for_audit
from .errors import (
    BadSignature,
    CapExceeded,
    Expired,
    MalformedMessage,
    PaddingViolation,
    Refused,
)
from .identity import Identity, PublicIdentity
from .manifest import PSI_SUITE, Manifest
from .padding import conforms
from .record import RecordSummary, record_body, sign_record
from .result import SessionResult

Rng = Callable[[int], bytes]
Clock = Callable[[], float]
ROLE_NAMES = {ROLE_INITIATOR: "initiator", ROLE_RESPONDER: "responder"}
MAX_HANDSHAKE_BODY = 16 * 1024
#: The members of each handshake body (docs/sessions.md): exactly these, in canonical JSON.
HELLO_MEMBERS = frozenset({"manifest", "ephemeral", "padded_size", "commitment"})
ACCEPT_MEMBERS = frozenset({"ephemeral", "padded_size", "padding", "commitment"})
REFUSE_MEMBERS = frozenset({"reason"})
_NOT_RECEIVING = {
    SessionState.FAILED: "this session failed; start a new one",
    SessionState.DONE: "this session is over",
    SessionState.NEW: "call start() first",
}

W = TypeVar("W", Proposal, Listening, Established[Any])
PartyT = TypeVar("PartyT", bound="PartyBase")
Work = Proposal | Listening | Established[Any] | None


def psi_boundary(fn: Callable[[bytes], bytes | None], payload: bytes) -> bytes | None:
    """Run one PSI step on a peer payload; the one place where PSI errors become session errors.

    ``PeerTooLarge`` becomes :class:`CapExceeded`; every other PSI error a peer can cause (a payload that
    does not parse, does not belong here, names another mode, or holds an invalid group element) becomes
    the session's :class:`MalformedMessage`. The PSI error stays as ``__cause__``.
    """
    try:
        return fn(payload)
    except PeerTooLarge as exc:
        raise CapExceeded(f"the peer's list is larger than it declared: {exc}") from exc
    except (
        PsiMalformedMessage,
        UnexpectedMessage,
        ModeNotAllowed,
        InvalidGroupElement,
        InvalidOtMessage,
    ) as exc:
        if isinstance(exc, MalformedMessage):  # already a session error
            raise
        raise MalformedMessage(f"the PSI payload is unacceptable ({type(exc).__name__}): {exc}") from exc


class PartyBase:
    """The machinery of :class:`InitiatorSession` and :class:`ResponderSession`."""

    _role: int
    _table: Mapping[tuple[SessionState, Event], Transition]

    def __init__(
        self, identity: Identity, rng: Rng, clock: Clock, executor: Executor,
        progress: ProgressCallback | None,
    ) -> None:  # fmt: skip
        if not isinstance(identity, Identity):
            raise TypeError("identity must be an Identity")
        if not callable(rng) or not callable(clock):
            raise InvalidParameter("rng and clock must be callables")
        if progress is not None and not callable(progress):
            raise InvalidParameter("progress must be a callable (stage, done, total) or None")
        self._progress = progress
        self._identity = identity
        self._rng = rng
        self._clock = clock
        self._executor = executor  # the PSI party's group work and compare run on it
        self._state = SessionState.NEW
        self._transcript = Transcript()
        self._count = 0
        self._facts = Facts()
        self._work: Work = None
        self._peer_authenticated = False
        self._own_set_sent = False
        self._result: SessionResult | None = None
        self._outcome: tuple[str, str | None, str | None] = ("pending", None, None)
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._bytes_sent = 0
        self._bytes_received = 0
        self._received: list[bytes] = []  # every message consumed (a saved state replays them)
        self._binding = b""  # keyed digest of the own items (set by each role once it has its seed)
        self._refeed: tuple[bytes, bytes | None] | None = None  # after a restore: last input, its output
        self._restoring: SavedState | None = None  # while restore_state re-executes the consumed messages
        self._wire: list[bytes] = []  # every message of the transcript, in order (for an audit package)
        self._opening: Opening | None = None  # what our commitment commits to (secret until escrowed)
        self._keys: tuple[bytes, bytes] | None = None  # the traffic keys (i2r, r2i), for the package
        self._package: bytes | None = None  # the sealed audit package, made once when the session ends
        self._selected: bool | None = None  # our routine-audit coin (docs/audit.md), drawn at the end
        self._handover: Any = None  # the streaming engine's start (_handover.StreamHandover), taken once
        self._stream_hash: bytes | None = None  # the streaming transcript hash, once it completed

    # -- public state ------------------------------------------------------------------------------------
    @property
    def role(self) -> str:
        return ROLE_NAMES[self._role]

    @property
    def state(self) -> SessionState:
        """Where the party stands in the state machine (docs/sessions.md)."""
        return self._state

    @property
    def done(self) -> bool:
        """True once the session ended, successfully or not (nothing more to send or receive)."""
        return self._state in TERMINAL

    @property
    def failed(self) -> bool:
        return self._state is SessionState.FAILED

    @property
    def result(self) -> SessionResult | None:
        """The local report once the session completed; ``None`` before, after a refusal or a failure."""
        return self._result

    @property
    def manifest(self) -> Manifest | None:
        return self._facts.manifest

    @property
    def peer_name(self) -> str | None:
        """The peer's name (trust-store name for a responder, once the hello was verified)."""
        return self._facts.peer_name

    @property
    def peer_authenticated(self) -> bool:
        """True once a message of the peer passed its signature and validity checks (for a responder: a
        fresh hello from a key in the trust store). Stays true after the session ends."""
        return self._peer_authenticated

    @property
    def max_next_message(self) -> int:
        """The longest message this party can accept next (0 when it expects none), known before it is
        read: a transport refuses a longer frame from its header. A handshake message is at most a header,
        ``MAX_HANDSHAKE_BODY`` and a signature; a data message has exactly the length the declared sizes
        give."""
        types = message_types(self._table, self._state)
        if not types:
            return 0
        return HEADER_BYTES + self._max_body(types) + SIGNATURE_BYTES

    @property
    def transcript_hash(self) -> bytes:
        """Hash of every message sent and received so far (the same on both sides once done)."""
        return self._transcript.hash

    # -- the event loop ----------------------------------------------------------------------------------
    def start(self) -> bytes:
        """The first message (each role defines it; a responder's raises ``LocalProtocolError``)."""
        raise NotImplementedError

    def _move(self, event: Event, *args: Any) -> bytes | None:
        """Run the table's handler for ``event`` in the current state and take the state it returns."""
        move = self._table[(self._state, event)]
        nxt, out = getattr(self, move.handler)(*args)
        if nxt not in move.next:  # pragma: no cover - a bug in a handler
            raise LocalProtocolError(f"{move.handler} led to {nxt.name}, not in the table")
        self._state = nxt
        if nxt is SessionState.DONE:
            self._ended_at = self._clock()
            self._forget()
        return out  # type: ignore[no-any-return]

    def receive(self, data: bytes) -> bytes | None:
        """Process one message from the peer; return the message to send back, if any.

        A bad message raises a :class:`~blindmatch.session.errors.SessionError`; the party is then dead and
        sends nothing more.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes")
        if self._refeed is not None:  # restored: the message consumed last may come again
            digest, out = self._refeed
            if hmac.compare_digest(hashlib.sha256(data).digest(), digest):
                return out
        types = message_types(self._table, self._state)
        if not types:
            raise LocalProtocolError(_NOT_RECEIVING.get(self._state, "call start() first"))
        try:
            self._bytes_received += len(data)
            msg = self._read(bytes(data), types)
            out = self._move(EVENT_OF_TYPE[msg.header.msg_type], msg)
        except BaseException as exc:
            self._fail(exc)
            raise
        self._refeed = None
        if not self.done:
            self._received.append(bytes(data))
        return out

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
        if self._state is SessionState.FAILED:
            raise LocalProtocolError("this session failed already")
        if self._state is SessionState.DONE:
            raise LocalProtocolError("this session is over")
        self._state = SessionState.FAILED
        self._outcome = ("failed", "aborted", " ".join(reason.split())[:500])
        self._ended_at = self._clock()
        if self._started_at is None:
            self._started_at = self._ended_at
        self._forget()

    def _fail(self, exc: BaseException) -> None:
        self._state = SessionState.FAILED
        status = "refused" if isinstance(exc, Refused) else "failed"
        self._outcome = (status, type(exc).__name__, safe_text(exc, 500) or type(exc).__name__)
        self._ended_at = self._clock()
        self._forget()

    def _forget(self) -> None:
        """Drop keys, ephemeral secrets, the PSI party and the own set: nothing of it can be sent any more
        (an audited session first seals what the auditor needs into the audit package)."""
        self._escrow()
        self._work = None
        self._opening = None
        self._keys = None
        self._received = []
        self._refeed = None

    # -- commitment and audit package (docs/audit.md) -----------------------------------------------------
    def _commit(self, seed: bytes, real: list[bytes], padded: list[bytes]) -> str:
        """Our commitment to ``seed`` and the padded list (hex, for our first message); keeps the opening."""
        session_id = self._facts.session_id
        if session_id is None:  # pragma: no cover - known before the first message
            raise LocalProtocolError("no session id")
        value = commitment(self.role, session_id, seed, padded)
        self._opening = Opening(seed, tuple(real), tuple(sorted(padded)), value)
        return value.hex()

    @staticmethod
    def _commitment_of(doc: Mapping[str, Any]) -> bytes:
        value = doc.get("commitment")
        if not isinstance(value, str) or len(value) != 2 * COMMITMENT_BYTES or value != value.lower():
            raise MalformedMessage("commitment must be 64 lowercase hex digits")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise MalformedMessage("commitment must be 64 lowercase hex digits") from None

    def _escrow(self) -> None:
        """Seal the audit package once, when an audited session ends (docs/audit.md)."""
        m, work = self._facts.manifest, self._work
        if m is None or m.audit is None or self._package is not None or work is None:
            return
        opening = self._opening
        if self._role == ROLE_RESPONDER and opening is None:
            return  # we refused (or failed before accepting): we never agreed to this auditor
        seed = opening.seed if opening is not None else work.seed
        contents = AuditContents(
            role=self.role,
            session_id=m.session_id,
            seed=seed,
            items=opening.items if opening is not None else (),
            padded=opening.padded if opening is not None else (),
            traffic_keys=self._keys,
            transcript=tuple(self._wire),
            commitment=opening.commitment if opening is not None else None,
        )
        self._package = seal_package(self._identity, m.audit.auditor, contents)
        self._selected = selected_for_audit(seed, self._transcript.hash, m.audit.rate_ppm)

    def audit_package(self) -> bytes | None:
        """The sealed audit package of an audited session (the same bytes on every call), to hand to the
        auditor; ``None`` when the manifest names no auditor or we never accepted it. Available once the
        session ended (completed, refused, failed or aborted). Keep it with mode 0600."""
        if not self.done:
            raise LocalProtocolError("the audit package is made when the session ends")
        return self._package

    @property
    def selected_for_audit(self) -> bool | None:
        """Our routine-audit coin for this audited session (docs/audit.md), once it ended; ``None`` when
        no package was made."""
        return self._selected

    # -- saved state -------------------------------------------------------------------------------------
    def _params(self) -> bytes:
        peer = self._facts.peer_key if self._role == ROLE_INITIATOR else None
        return params_hash(self.role, self._identity.public.raw, peer, self._binding)

    def save_state(self) -> bytes:
        """The party's state between two steps (docs/sessions.md, "Saved state"): restore it with
        ``restore_state`` and the same arguments. It holds the party's seed: keep it like a secret key."""
        work = self._work
        if self.done or work is None or (not self._received and self._state is not SessionState.AWAIT_ACCEPT):
            raise LocalProtocolError(f"no state to save in state {self._state.name} (save after a step)")
        manifest = self._facts.manifest
        if manifest is not None and manifest.psi_suite != PSI_SUITE:
            raise LocalProtocolError("the OT engine runs over live transports only: it has no saved state")
        manifest = self._facts.manifest
        saved = SavedState(
            role=self.role,
            state=self._state.name,
            params=self._params(),
            seed=work.seed,
            manifest=manifest.to_dict() if manifest is not None and self._role == ROLE_INITIATOR else None,
            received=tuple(self._received),
            transcript_hash=self._transcript.hash,
            psi=work.psi.save_state() if isinstance(work, Established) else None,
            psi_request=work.request or None if isinstance(work, Established) else None,
        )
        return saved.to_bytes()

    @classmethod
    def _restore_kwargs(cls, saved: SavedState, kwargs: dict[str, Any]) -> None:
        """Constructor arguments the state supplies (the initiator's manifest)."""

    @classmethod
    def restore_state(cls: type[PartyT], state: bytes, *args: Any, **kwargs: Any) -> PartyT:
        """A party made with the same arguments as the one that saved ``state`` (``rng`` excepted: the
        state has the seed), brought back to the same point by re-executing the messages it consumed.

        Other items, identity or peer raise :class:`~blindmatch.InvalidParameter`; so does a replay that
        does not reach the saved transcript. The restored party answers a byte-identical copy of the
        message it consumed last with the same output again; any other message goes through every check
        (an older or different one is ``Replayed`` or ``OutOfOrder``)."""
        saved = SavedState.from_bytes(state, ROLE_NAMES[cls._role])
        kwargs["rng"] = seed_once(saved.seed, LocalProtocolError)  # the restored party's one draw
        kwargs.pop("seen_session_ids", None)  # the hello is replayed, not received again
        cls._restore_kwargs(saved, kwargs)
        party = cls(*args, **kwargs)
        if not hmac.compare_digest(party._params(), saved.params):
            raise InvalidParameter("the state was saved with another identity, peer or items")
        party._restoring = saved
        out = party.start() if party._state is SessionState.NEW else None
        for msg in saved.received:
            out = party.receive(msg)
        party._restoring = None
        if party._transcript.hash != saved.transcript_hash or party._state.name != saved.state:
            raise InvalidParameter("re-executing the saved state did not reach the saved point")
        if saved.received:
            party._refeed = (hashlib.sha256(saved.received[-1]).digest(), out)
        return party

    def _phase(self, kind: type[W]) -> W:
        """The working data of the current phase, which the transition table guarantees is ``kind``."""
        work = self._work
        if not isinstance(work, kind):  # pragma: no cover - the table rules this out
            raise LocalProtocolError(f"no {kind.__name__} data in state {self._state.name}")
        return work

    # -- sending -----------------------------------------------------------------------------------------
    def _send(self, msg_type: int, body: bytes, sealer: Sealer | None = None) -> bytes:
        session_id = self._facts.session_id
        if session_id is None or (msg_type == T_DATA) != (sealer is not None):  # pragma: no cover - a bug
            raise LocalProtocolError("a data message needs traffic keys, any message a session id")
        length = len(body) + TAG_BYTES if msg_type == T_DATA else len(body)
        header = pack_header(
            msg_type,
            self._role,
            self._count,
            session_id,
            self._transcript.hash,
            self._identity.public.raw,
            length,
        )
        if sealer is not None:
            body = sealer.seal(header, body)
        wire = sign_message(self._identity, header, body)
        self._transcript.add(wire)
        self._wire.append(wire)
        self._count += 1
        self._bytes_sent += len(wire)
        return wire

    # -- receiving ---------------------------------------------------------------------------------------
    def _read(self, data: bytes, types: tuple[int, ...]) -> Message:
        """Every check on an incoming message, cheapest first, before any payload is used."""
        header = parse_header(data)
        self._check_header(header, types, self._max_body(types))
        msg = split_message(data, header)
        self._verify(msg, header.sender_key)
        self._check_time()
        self._absorb(msg)
        self._peer_authenticated = True
        return msg

    def _absorb(self, msg: Message) -> None:
        self._transcript.add(msg.wire)
        self._wire.append(msg.wire)
        self._count += 1

    def _max_body(self, types: tuple[int, ...]) -> int:
        if T_DATA in types:
            return self._expected_payload() + TAG_BYTES
        return MAX_HANDSHAKE_BODY

    def _expected_payload(self) -> int:
        raise NotImplementedError

    def _check_header(self, header: Header, expected: tuple[int, ...], max_body: int) -> None:
        facts = self._facts
        check_order(header, role=self._role, session_id=facts.session_id, peer_key=facts.peer_key,
                    count=self._count, expected=expected, transcript_hash=self._transcript.hash)  # fmt: skip
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

    @staticmethod
    def _verify(msg: Message, key: bytes) -> None:
        if not PublicIdentity(key).verify(msg.signature, signed_bytes(msg.signed)):
            raise BadSignature(
                f"the signature on the {TYPE_NAMES[msg.header.msg_type]} message does not verify"
            )

    def _check_time(self) -> None:
        m = self._facts.manifest
        if m is not None:
            now = self._clock()
            skew = self._skew()
            if now > m.not_after + skew:
                raise Expired("the session's validity window is over")
            if now < m.not_before - skew:
                raise Expired("the session's validity window has not begun")

    def _skew(self) -> int:
        return 0

    def _check_declared_size(self, size: Any, peer_role: str, rule: str) -> int:
        """The peer's declared padded size: an integer within its cap that its padding ``rule`` can give."""
        m = self._facts.manifest
        if m is None:  # pragma: no cover - set before any size is read
            raise LocalProtocolError("no manifest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise MalformedMessage("padded_size must be a non-negative integer")
        cap = m.cap_of(peer_role)
        if size > cap:
            raise CapExceeded(f"the {peer_role} declares {size} items, more than the agreed cap of {cap}")
        if not conforms(rule, size, cap):
            raise PaddingViolation(f"the {peer_role}'s size {size} does not follow its padding rule {rule!r}")
        return size

    @staticmethod
    def _json_body(msg: Message, members: frozenset[str]) -> dict[str, Any]:
        """The handshake body as a dict: strict JSON (no repeated member), a JSON object with exactly
        ``members``, and byte for byte its canonical encoding (so every reader sees one document)."""
        name = TYPE_NAMES[msg.header.msg_type]
        try:
            doc = json.loads(msg.body.decode("utf-8"), object_pairs_hook=object_without_duplicates)
        except DuplicateKeyError:
            raise MalformedMessage(f"{name} body repeats a member") from None
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedMessage(f"{name} body is not JSON") from None
        if not isinstance(doc, dict):
            raise MalformedMessage(f"{name} body is not a JSON object")
        try:
            canonical = canonical_json(doc)
        except InvalidParameter as exc:  # a float, a large integer, too deep
            raise MalformedMessage(f"{name} body is not canonical JSON ({exc})") from None
        if not hmac.compare_digest(canonical, msg.body):
            raise MalformedMessage(f"{name} body is not in canonical JSON form (docs/sessions.md)")
        if set(doc) != members:
            raise MalformedMessage(f"{name} body must have exactly the members {', '.join(sorted(members))}")
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

    def _learn(self, **facts: Any) -> None:
        self._facts = dataclasses.replace(self._facts, **facts)

    # -- record ------------------------------------------------------------------------------------------
    def summary(self) -> RecordSummary:
        """The immutable summary the record is made from (available in every state)."""
        f = self._facts
        status, error, reason = self._outcome
        return RecordSummary(
            role=self.role,
            writer=self._identity.public,
            session_id=f.session_id,
            peer_key=f.peer_key,
            peer_name=f.peer_name,
            manifest=f.manifest,
            own_padded=f.own_padded,
            peer_padded=f.peer_padded,
            responder_padding=f.responder_padding,
            result=self._result,
            own_set_sent=self._own_set_sent,
            transcript_hash=self._stream_hash or self._transcript.hash,
            messages=self._count,
            bytes_sent=self._bytes_sent,
            bytes_received=self._bytes_received,
            started=self._started_at,
            ended=self._ended_at,
            status=status,
            error=error,
            reason=reason,
            auditor=m.audit.auditor if (m := f.manifest) is not None and m.audit is not None else None,
            package_sha256=package_sha256(self._package) if self._package is not None else None,
        )

    def record(self) -> dict[str, Any]:
        """The signed disclosure record of this party (after the session ended, failed or was aborted)."""
        if self._state is SessionState.NEW:
            raise LocalProtocolError("no session has started")
        if not self.done:
            raise LocalProtocolError("the session is still running")
        return sign_record(self._identity, record_body(self.summary()))
