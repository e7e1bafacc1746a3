"""A query inside an authenticated session: :class:`QuerySession` (the querier) and
:class:`PublisherSession` (the publisher answering it), sans-I/O: bytes in, bytes out.

The framing, signatures, transcript hash and traffic keys are the exchange sessions' (``session.channel``,
docs/sessions.md); the first message has its own type (``query``, 5), so a PSI responder never takes it
for a hello, nor a publisher a hello for a query. Four messages::

    querier   -> publisher  query   signed JSON: publisher, epoch, base, counts, verifiable, ephemeral, time
    publisher -> querier    accept  signed JSON: ephemeral          (or refuse: reason)
    querier   -> publisher  data    sealed: the blinded request (published.query)
    publisher -> querier    data    sealed: evaluations (and proofs)

The publisher checks the declared counts against the querier's budget (per epoch and kind) before it
accepts, and charges them when the sealed request comes; proofs are bound to the transcript hash after
the accept and to the base file id.

States (one table per role, :data:`QUERIER_TABLE` and :data:`PUBLISHER_TABLE`): querier NEW -> AWAIT_ACCEPT
-> AWAIT_RESPONSE -> DONE; publisher AWAIT_QUERY -> AWAIT_REQUEST -> DONE; any error: FAILED.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, MutableSet, Sequence
from typing import Any

from .._derive import derive_key, new_seed
from .._text import safe_text
from ..errors import InvalidParameter, LocalProtocolError
from ..hazmat._errors import InvalidGroupElement
from ..psi import IndicatorItems
from ..session._base import PartyBase
from ..session._canonjson import canonical_json
from ..session.channel import (
    HEADER_BYTES,
    ROLE_INITIATOR,
    ROLE_RESPONDER,
    SIGNATURE_BYTES,
    T_ACCEPT,
    T_DATA,
    T_QUERY,
    T_REFUSE,
    TAG_BYTES,
    Message,
    Opener,
    Sealer,
    Transcript,
    check_order,
    new_ephemeral,
    pack_header,
    parse_header,
    sign_message,
    split_message,
    traffic_keys,
    x25519_shared,
)
from ..session.errors import (
    Expired,
    MalformedMessage,
    Refused,
    Replayed,
    UnknownPeer,
    WrongPeer,
)
from ..session.identity import Identity, PublicIdentity
from ..session.peers import PeerStore
from .budget import EvaluationBudget, refusal
from .errors import MalformedPublishedFile
from .file import PublishedFile
from .publisher import EpochKey
from .query import Querier, QueryResult, answer_request, parse_request, proof_context
from .record import query_record

__all__ = ["PUBLISHER_TABLE", "QUERIER_TABLE", "PublisherSession", "QuerySession"]

QUERY_MEMBERS = frozenset({"publisher", "epoch", "base", "counts", "verifiable", "ephemeral", "time"})
ACCEPT_MEMBERS = frozenset({"ephemeral"})
REFUSE_MEMBERS = frozenset({"reason"})
MAX_HANDSHAKE = 16 * 1024
#: What a refusal for budget says on the wire (in clear: no name, no counts); the record has the details.
_BUDGET_REASON = "the query exceeds this querier's evaluation budget for the epoch"
#: The most evaluations one query may ask for (all kinds together).
MAX_QUERY_ITEMS = 1 << 20
Rng = Callable[[int], bytes]
Clock = Callable[[], float]

#: (state, message type received) -> next state; ``start`` moves the querier from NEW.
QUERIER_TABLE: dict[tuple[str, int], str] = {
    ("AWAIT_ACCEPT", T_ACCEPT): "AWAIT_RESPONSE",
    ("AWAIT_ACCEPT", T_REFUSE): "FAILED",
    ("AWAIT_RESPONSE", T_DATA): "DONE",
}
PUBLISHER_TABLE: dict[tuple[str, int], str] = {
    ("AWAIT_QUERY", T_QUERY): "AWAIT_REQUEST",
    ("AWAIT_REQUEST", T_DATA): "DONE",
}


class _Party:
    """What both roles share: framing, signatures, transcript, the table, failure and records."""

    _role: int
    _table: Mapping[tuple[str, int], str]

    def __init__(self, identity: Identity, rng: Rng, clock: Clock) -> None:
        if not isinstance(identity, Identity):
            raise TypeError("identity must be an Identity")
        self._identity = identity
        self._seed = new_seed(rng)
        self._clock = clock
        self.state = "NEW"
        self._transcript = Transcript()
        self._count = 0
        self._session_id: bytes | None = None
        self._peer_key: bytes | None = None
        self._keys: tuple[Sealer, Opener] | None = None
        self._facts: dict[str, Any] = {"outcome": "failed", "error": None}
        self.peer_name: str | None = None
        self._authenticated = False

    @property
    def done(self) -> bool:
        """True once the query ended, successfully or not (as for exchange sessions)."""
        return self.state in ("DONE", "FAILED")

    @property
    def failed(self) -> bool:
        return self.state == "FAILED"

    @property
    def role(self) -> str:
        return "querier" if self._role == ROLE_INITIATOR else "publisher"

    @property
    def peer_authenticated(self) -> bool:
        """Whether a message of the peer passed its signature check (a server counts the query then)."""
        return self._authenticated

    @property
    def max_next_message(self) -> int:
        """The longest message this party can take next (0: none), for a transport to refuse longer frames."""
        if self.state in ("DONE", "FAILED", "NEW"):
            return 0
        return HEADER_BYTES + self._max_body() + SIGNATURE_BYTES

    def _max_body(self) -> int:
        raise NotImplementedError

    def abort(self, reason: str) -> None:
        """End the query here (the peer went away or stalled); :meth:`record` then says ``failed``."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidParameter("reason must be a non-empty str")
        if self.state in ("DONE", "FAILED"):
            raise LocalProtocolError("this query is over")
        self.state = "FAILED"
        self._keys = None
        self._facts.update(outcome="failed", error="aborted", reason=" ".join(reason.split())[:300])
        if self._session_id is None:
            self._session_id = bytes(16)

    @property
    def transcript_hash(self) -> bytes:
        return self._transcript.hash

    def _send(self, msg_type: int, body: bytes) -> bytes:
        if self._session_id is None:  # pragma: no cover - set before the first message
            raise LocalProtocolError("no session id")
        sealed = msg_type == T_DATA
        header = pack_header(
            msg_type,
            self._role,
            self._count,
            self._session_id,
            self._transcript.hash,
            self._identity.public.raw,
            len(body) + (TAG_BYTES if sealed else 0),
        )
        if sealed:
            if self._keys is None:  # pragma: no cover - the table rules this out
                raise LocalProtocolError("no traffic keys")
            body = self._keys[0].seal(header, body)
        wire = sign_message(self._identity, header, body)
        self._transcript.add(wire)
        self._count += 1
        return wire

    def _read(self, data: bytes, max_body: int, *, authenticate: bool = True) -> Message:
        header = parse_header(data)
        check_order(header, role=self._role, session_id=self._session_id, peer_key=self._peer_key,
                    count=self._count, expected=[t for (s, t) in self._table if s == self.state],
                    transcript_hash=self._transcript.hash)  # fmt: skip
        if header.body_len > max_body:
            raise MalformedMessage(f"a {header.body_len}-byte body is larger than this step allows")
        msg = split_message(data, header)
        PartyBase._verify(msg, header.sender_key)
        self._transcript.add(msg.wire)
        self._count += 1
        self._authenticated = authenticate  # the publisher's query: only once fresh and not replayed
        return msg

    def _open(self, msg: Message) -> bytes:
        if self._keys is None:  # pragma: no cover - the table rules this out
            raise LocalProtocolError("no traffic keys")
        return self._keys[1].open(msg.header.raw, msg.body)

    def receive(self, data: bytes) -> bytes | None:
        """Process one message from the peer; the message to send back, if any. Any error leaves the party
        FAILED (it sends nothing more); a second call after the end raises LocalProtocolError."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes")
        if self.state in ("DONE", "FAILED", "NEW"):
            raise LocalProtocolError(f"this party does not receive in state {self.state}")
        try:
            out = self._receive(bytes(data))
        except BaseException as exc:
            self.state = "FAILED"
            self._keys = None
            self._facts.update(
                outcome="refused" if isinstance(exc, Refused) else "failed",
                error=type(exc).__name__,
                reason=safe_text(exc, 300),
            )
            raise
        return out

    def _receive(self, data: bytes) -> bytes | None:
        raise NotImplementedError

    def _finish(self) -> None:
        self.state = "DONE"
        self._keys = None
        self._facts["outcome"] = "completed"

    def record(self) -> dict[str, Any]:
        """Our signed disclosure record of this query (docs/published-sets.md); after the end only."""
        if self.state not in ("DONE", "FAILED") or self._session_id is None:
            raise LocalProtocolError("the record comes after the session is over")
        role = "querier" if self._role == ROLE_INITIATOR else "publisher"
        return query_record(
            self._identity, role, self._session_id, self._transcript.hash, self._facts, int(self._clock())
        )


def _hex(doc: Mapping[str, Any], member: str, nbytes: int) -> bytes:
    v = doc.get(member)
    if not isinstance(v, str) or len(v) != 2 * nbytes or v != v.lower():
        raise MalformedMessage(f"{member} must be {2 * nbytes} lowercase hex digits")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise MalformedMessage(f"{member} must be {2 * nbytes} lowercase hex digits") from None


class QuerySession(_Party):
    """The querier: asks ``publisher`` (its identity) to evaluate our ``indicators`` against ``files``
    (the epoch's base file, then its later files, as fetched from the host). ``verifiable`` asks for
    proofs (default); ``padding="pow2"`` pads each kind's count with dummies to a power of two.
    :attr:`result` after the end."""

    _role = ROLE_INITIATOR
    _table = QUERIER_TABLE

    def __init__(
        self,
        identity: Identity,
        publisher: PublicIdentity,
        files: Sequence[PublishedFile],
        indicators: IndicatorItems,
        *,
        verifiable: bool = True,
        padding: str = "none",
        rng: Rng = os.urandom,
        clock: Clock = time.time,
        peer_name: str | None = None,
    ) -> None:
        super().__init__(identity, rng, clock)
        if not isinstance(publisher, PublicIdentity):
            raise TypeError("publisher must be a PublicIdentity")
        if files and files[0].publisher != publisher:
            raise InvalidParameter("the files are signed by another publisher than the one named")
        for f in files:
            f.check_time(clock())
        self._files = list(files)
        self._querier = Querier(
            files,
            indicators,
            seed=derive_key(self._seed, b"query blinds"),
            verifiable=verifiable,
            padding=padding,
        )
        self._peer_key = publisher.raw
        self.peer_name = peer_name
        self.result: QueryResult | None = None
        base = files[0]
        self._facts.update(
            publisher=publisher.raw.hex(),
            querier=identity.public.raw.hex(),
            epoch=base.epoch,
            base=base.file_id.hex(),
            counts=self._querier.counts,
            verifiable=verifiable,
        )

    def start(self) -> bytes:
        """The query message. Call once."""
        if self.state != "NEW":
            raise LocalProtocolError("start() is called once")
        self._session_id = derive_key(self._seed, b"query session id")[:16]
        self._eph, eph_pub = new_ephemeral(derive_key(self._seed, b"query ephemeral"))
        base = self._files[0]
        body = canonical_json(
            {
                "publisher": self._peer_key.hex() if self._peer_key else "",
                "epoch": base.epoch,
                "base": base.file_id.hex(),
                "counts": self._querier.counts,
                "verifiable": self._querier.verifiable,
                "ephemeral": eph_pub.hex(),
                "time": int(self._clock()),
            }
        )
        self.state = "AWAIT_ACCEPT"
        return self._send(T_QUERY, body)

    def _max_body(self) -> int:
        if self.state == "AWAIT_ACCEPT":
            return MAX_HANDSHAKE
        counts = self._querier.counts
        proofs = 64 * len(counts) if self._querier.verifiable else 0
        return 32 * sum(counts.values()) + proofs + TAG_BYTES

    def _receive(self, data: bytes) -> bytes | None:
        if self.state == "AWAIT_ACCEPT":
            msg = self._read(data, MAX_HANDSHAKE)
            if msg.header.msg_type == T_REFUSE:
                reason = PartyBase._json_body(msg, REFUSE_MEMBERS)["reason"]
                raise Refused(safe_text(reason if isinstance(reason, str) else "no reason", 500))
            doc = PartyBase._json_body(msg, ACCEPT_MEMBERS)
            i2r, r2i = traffic_keys(
                x25519_shared(self._eph, PartyBase._ephemeral_of(doc)), self._transcript.hash
            )
            self._keys = (Sealer(i2r), Opener(r2i))
            self._context = proof_context(self._transcript.hash, self._files[0].file_id, "")
            self.state = "AWAIT_RESPONSE"
            return self._send(T_DATA, self._querier.request())
        msg = self._read(data, self._max_body())
        try:
            self.result = self._querier.finish(self._open(msg), self._context)
        except MalformedPublishedFile as exc:  # never a file problem here: the answer is at fault
            raise MalformedMessage(str(exc)) from exc
        self._facts["matched"] = len(self.result.matches)
        self._finish()
        return None


class PublisherSession(_Party):
    """The publisher: answers one query against the epochs of ``keys`` (their :class:`EpochKey` files,
    with ``files`` the files published under them, to check the kinds a query names). ``peers`` is the
    trust store. ``budget`` (required: share one between the sessions a server makes, else each session
    would start afresh; :class:`MemoryEvaluationBudget` or :class:`StoredEvaluationBudget`) is checked
    when the query arrives and charged, atomically, when its sealed request arrives (a replayed query
    message cannot get that far); ``seen_session_ids`` (shared between sessions) refuses a replayed
    query outright. A budget refusal says only that on the wire; :attr:`refusal_reason` and our record
    keep the details."""

    _role = ROLE_RESPONDER
    _table = PUBLISHER_TABLE

    def __init__(
        self,
        identity: Identity,
        peers: PeerStore,
        keys: Sequence[EpochKey],
        files: Sequence[PublishedFile],
        *,
        budget: EvaluationBudget,
        clock_skew_s: int = 300,
        seen_session_ids: MutableSet[bytes] | None = None,
        rng: Rng = os.urandom,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(identity, rng, clock)
        if not isinstance(peers, PeerStore):
            raise TypeError("peers must be a PeerStore")
        self._peers = peers
        self._epochs = {k.base_id: k for k in keys if k.publisher == identity.public.raw}
        self._kinds: dict[bytes, set[str]] = {}
        for f in files:  # the kinds of each epoch: its base file's and those its deltas added
            if f.type != "withdrawal":
                self._kinds.setdefault(f.base_id, set()).update(f.kinds)
        self._budget = budget
        self._skew = clock_skew_s
        self._seen = seen_session_ids
        self.state = "AWAIT_QUERY"
        self.refusal_reason: str | None = None

    def start(self) -> bytes:
        raise LocalProtocolError("a publisher does not start a session; it answers the querier's query")

    def _max_body(self) -> int:
        return MAX_HANDSHAKE if self.state == "AWAIT_QUERY" else self._expected + TAG_BYTES

    def _receive(self, data: bytes) -> bytes | None:
        if self.state == "AWAIT_QUERY":
            header = parse_header(data)
            peer = self._peers.lookup_key(header.sender_key)
            if peer is None:
                raise UnknownPeer(
                    f"the query is signed by an unknown key ({PublicIdentity(header.sender_key).fingerprint})"
                )
            self._session_id = header.session_id
            msg = self._read(data, MAX_HANDSHAKE, authenticate=False)
            self._peer_key, self.peer_name = header.sender_key, peer.name
            return self._on_query(msg, peer.name)
        msg = self._read(data, self._expected + TAG_BYTES)
        try:
            blinded, verifiable = parse_request(self._open(msg), self._counts)
        except MalformedPublishedFile as exc:  # a message, not a file
            raise MalformedMessage(str(exc)) from exc
        if verifiable != self._verifiable:
            raise MalformedMessage("the request's verifiable flag differs from the query's")
        # charged now (atomically; a concurrent query may have taken the budget since the accept)
        self._budget.charge(self.peer_name or "", self._budget_name, self._counts, self._key.evaluations)
        keys = {k: self._key.kind_key(k) for k in blinded}
        try:
            response = answer_request(
                keys, blinded, verifiable, self._context, derive_key(self._seed, b"query proofs")
            )
        except InvalidGroupElement as exc:
            raise MalformedMessage(f"the query holds an unacceptable point: {exc}") from exc
        out = self._send(T_DATA, response)
        self._finish()
        return out

    def _on_query(self, msg: Message, peer: str) -> bytes:
        doc = PartyBase._json_body(msg, QUERY_MEMBERS)
        if _hex(doc, "publisher", 32) != self._identity.public.raw:
            raise WrongPeer("the query is addressed to another publisher")
        base_id, eph_peer = _hex(doc, "base", 16), PartyBase._ephemeral_of(doc)
        t, counts, verifiable = doc["time"], doc["counts"], doc["verifiable"]
        if isinstance(t, bool) or not isinstance(t, int) or abs(t - self._clock()) > self._skew:
            raise Expired("the query's time is outside the allowed clock skew")
        if not isinstance(verifiable, bool) or not isinstance(counts, dict):
            raise MalformedMessage("verifiable must be a boolean and counts an object")
        self._facts.update(
            publisher=self._identity.public.raw.hex(),
            querier=msg.header.sender_key.hex(),
            epoch=doc["epoch"],
            base=base_id.hex(),
            counts=counts,
            verifiable=verifiable,
        )
        if self._seen is not None and msg.header.session_id in self._seen:
            raise Replayed("this query's session id was used before (a replayed query)")
        if self._seen is not None:
            self._seen.add(msg.header.session_id)
        self._authenticated = True  # signed, fresh and not replayed: a server counts the query from here
        reason = self._refusal(base_id, doc["epoch"], counts)
        self._budget_name = f"{self._identity.public.raw.hex()}/{base_id.hex()}"
        over_budget = False
        if reason is None:  # a check only: the charge comes with the sealed request, which a replay lacks
            reason = refusal(self._budget, self._budget.caps, peer, self._budget_name, counts)
            over_budget = reason is not None
        if reason is not None:
            self.refusal_reason = reason  # the details stay here and in our record; the wire is in clear
            wire = _BUDGET_REASON if over_budget else reason
            out = self._send(T_REFUSE, canonical_json({"reason": wire}))
            self.state = "DONE"
            self._facts["outcome"] = "refused"
            self._facts["reason"] = reason
            return out
        eph, eph_pub = new_ephemeral(derive_key(self._seed, b"query ephemeral"))
        shared = x25519_shared(eph, eph_peer)
        out = self._send(T_ACCEPT, canonical_json({"ephemeral": eph_pub.hex()}))
        i2r, r2i = traffic_keys(shared, self._transcript.hash)
        self._keys = (Sealer(r2i), Opener(i2r))
        self._key, self._counts, self._verifiable = self._epochs[base_id], counts, verifiable
        self._context = proof_context(self._transcript.hash, base_id, "")
        self._expected = 3 + sum(5 + len(k) + 32 * n for k, n in counts.items())
        self.state = "AWAIT_REQUEST"
        return out

    def _refusal(self, base_id: bytes, epoch: Any, counts: dict[str, Any]) -> str | None:
        key = self._epochs.get(base_id)
        if key is None or base_id not in self._kinds:
            return "this publisher does not serve that file (unknown base file id)"
        if epoch != key.epoch:
            return "the query names another epoch than the file's"
        now = self._clock()
        if not key.not_before - self._skew <= now <= key.not_after + self._skew:
            return "the epoch's file is outside its validity window"
        for kind, n in counts.items():
            if kind not in self._kinds.get(base_id, ()):
                return f"the file holds no kind {safe_text(kind, 64)!r}"
            if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_QUERY_ITEMS:
                return "each count must be a positive integer"
        if not counts or sum(counts.values()) > MAX_QUERY_ITEMS:
            return f"a query asks about 1 to {MAX_QUERY_ITEMS} items"
        return None
