"""The responder: checks the proposed manifest against its policy, accepts or refuses, answers the PSI."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping, MutableSet
from typing import Any, cast

from .._derive import new_seed
from .._progress import ProgressCallback
from ..errors import CapacityError, InvalidParameter, LocalProtocolError
from ..executors import Executor, resolve_executor
from ..otpsi import OtResponder
from ..psi import IndicatorItems, Mode, confirm_size, mode_spec, request_size
from ..psi import Responder as PsiResponder
from ._base import HELLO_MEMBERS, MAX_HANDSHAKE_BODY, Clock, PartyBase, Rng, psi_boundary
from ._canonjson import canonical_json
from ._handover import hand_over
from ._items import own_items
from ._phases import Established, Listening
from ._saved import items_binding
from ._seeded import dummies, ephemeral, psi_seed
from ._states import RESPONDER_TABLE, SessionState
from .channel import (
    ROLE_RESPONDER,
    T_ACCEPT,
    T_DATA,
    T_REFUSE,
    Message,
    Opener,
    Sealer,
    parse_header,
    split_message,
    traffic_keys,
    x25519_shared,
)
from .errors import MalformedMessage, Reflected, Replayed, UnknownPeer, WrongPeer
from .identity import Identity, PublicIdentity
from .manifest import OT_PSI_SUITE, STREAM_SUITES, Manifest, Policy
from .padding import padded_size
from .peers import PeerStore
from .result import ResultContext, make_result

__all__ = ["ResponderSession"]

Step = tuple[SessionState, bytes | None]


def _listening(given: IndicatorItems | list[bytes], cap: int, seed: bytes) -> Listening:
    """The responder's items before the hello; all of them together must fit under its own cap."""
    if len(given) > cap:  # checked here, once: the accept/refuse decision never looks at our set's size
        raise CapacityError(f"our {len(given)} distinct items exceed our own cap of {cap} (the policy's)")
    return Listening(given, seed)


class ResponderSession(PartyBase):
    """The party that checks the proposed manifest against its :class:`Policy` and answers.

    ``peers`` is the trust store: a hello signed by any other key raises ``UnknownPeer``. Items are given
    as for :class:`InitiatorSession` (exactly one of ``indicators``, ``items_by_kind`` and ``items``);
    only the indicators of the kinds the manifest names take part (``indicators.select(manifest.kinds)``:
    give one :class:`~blindmatch.psi.IndicatorItems` to every party a server makes, nothing is encoded
    again). All our distinct items together must fit under the policy's ``max_items_responder`` (else
    ``CapacityError`` here, before anything is sent). ``seen_session_ids`` (optional, shared between
    sessions) lets the responder reject a replayed hello within its validity window. ``progress`` is
    handed to the PSI party, as for :class:`InitiatorSession`.
    """

    _role = ROLE_RESPONDER
    _table = RESPONDER_TABLE

    def __init__(
        self,
        identity: Identity,
        peers: PeerStore,
        policy: Policy | None = None,
        *,
        indicators: IndicatorItems | None = None,
        items_by_kind: Mapping[str, Iterable[str]] | None = None,
        items: Iterable[bytes] | None = None,
        seen_session_ids: MutableSet[bytes] | None = None,
        rng: Rng = os.urandom,
        clock: Clock = time.time,
        workers: int | None = None,
        executor: Executor | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(identity, rng, clock, resolve_executor(workers, executor), progress)
        if not isinstance(peers, PeerStore):
            raise TypeError("peers must be a PeerStore")
        self._peers = peers
        self._policy = policy if policy is not None else Policy()
        version = self._policy.canon_version
        if isinstance(indicators, IndicatorItems) and indicators.canon_version != version:
            raise InvalidParameter(
                f"our indicators are canon version {indicators.canon_version}, the policy's is {version}"
            )
        given = own_items(indicators, items_by_kind, items, version)
        self._work = work = _listening(given, self._policy.max_items_responder, new_seed(rng))
        self._binding = items_binding(work.seed, given)
        self._seen = seen_session_ids
        self._state = SessionState.AWAIT_HELLO
        self.refusal_reason: str | None = None

    def start(self) -> bytes:
        """A responder sends nothing first: it waits for the hello (always ``LocalProtocolError``)."""
        raise LocalProtocolError("a responder does not start a session; it answers the initiator's hello")

    def _skew(self) -> int:
        return self._policy.clock_skew_s

    def _expected_payload(self) -> int:
        work = self._phase(Established)
        ctx = work.ctx
        if isinstance(work.psi, OtResponder):  # the OT engine knows each of its messages' exact size
            return work.psi.expected_request_size()
        if self._state is SessionState.AWAIT_REQUEST:  # their blinded list
            return request_size(ctx.peer_padded)
        return confirm_size(ctx.own_padded)  # the confirm: hashes of our list

    def _read(self, data: bytes, types: tuple[int, ...]) -> Message:
        if self._state is not SessionState.AWAIT_HELLO:
            return super()._read(data, types)
        # the hello: the trust store is asked before anything else; the rest is checked in _on_hello
        self._started_at = self._clock()
        header = parse_header(data)
        if header.role == self._role:
            raise Reflected("got a hello sent by a responder")
        if self._peers.lookup_key(header.sender_key) is None:
            raise UnknownPeer(
                f"the hello is signed by an unknown key ({PublicIdentity(header.sender_key).fingerprint})"
            )
        self._check_header(header, types, MAX_HANDSHAKE_BODY)
        msg = split_message(data, header)
        self._verify(msg, header.sender_key)
        return msg

    def _checked_manifest(self, msg: Message, doc: Mapping[str, Any]) -> Manifest:
        manifest = Manifest.from_dict(doc.get("manifest"))  # type: ignore[arg-type]
        if manifest.initiator_key != msg.header.sender_key:
            raise WrongPeer("the manifest names another initiator than the hello's signer")
        if manifest.responder_key != self._identity.public.raw:
            raise WrongPeer("the manifest is addressed to another responder")
        if manifest.session_id != msg.header.session_id:
            raise MalformedMessage("the hello's session id differs from its manifest's")
        if self._seen is not None and manifest.session_id in self._seen:
            raise Replayed("this session id was used before (replayed hello)")
        return manifest

    def _on_hello(self, msg: Message) -> Step:
        doc = self._json_body(msg, HELLO_MEMBERS)
        manifest = self._checked_manifest(msg, doc)
        peer_key = msg.header.sender_key
        self._learn(manifest=manifest, session_id=manifest.session_id, peer_key=peer_key)
        self._check_time()
        # authenticated and fresh from here on (a server counts the session now): a replayed or expired
        # hello, which anyone who saw the traffic can send, must not count
        peer = self._peers.lookup_key(peer_key)
        if peer is None:  # pragma: no cover - looked up in _read
            raise UnknownPeer("the hello's signer left the trust store")
        self._learn(peer_name=peer.name)
        self._peer_authenticated = True
        if self._seen is not None:
            self._seen.add(manifest.session_id)
        eph_peer = self._ephemeral_of(doc)
        peer_padded = self._check_declared_size(doc.get("padded_size"), "initiator", manifest.padding)
        self._commitment_of(doc)  # well formed; only an auditor can open it
        self._learn(peer_padded=peer_padded)
        self._absorb(msg)
        # the decision comes first, from the manifest and the policy only (not even the time it takes to
        # collect our items may depend on their number)
        reason = self._policy.refusal(manifest, peer.name)
        if reason is not None:
            self.refusal_reason = reason
            out = self._send(T_REFUSE, canonical_json({"reason": reason}))
            self._outcome = ("refused", None, reason)
            return SessionState.DONE, out
        ctx = ResultContext(self.role, manifest, peer_key, peer.name, 0, 0, peer_padded, None)
        return SessionState.AWAIT_REQUEST, self._accept(ctx, eph_peer)

    def _accept(self, ctx: ResultContext, eph_peer: bytes) -> bytes:
        """Our items of the manifest's kinds, padded; the accept; the traffic keys and the PSI party."""
        listening, manifest = self._phase(Listening), ctx.manifest
        back: IndicatorItems | None = None
        if isinstance(listening.items, IndicatorItems):  # the per-kind groups are shared, not re-encoded
            back = listening.items.select(manifest.kinds)
            real = back.items
        else:
            real = listening.items
        rule = self._policy.padding_for(manifest)  # we pad our own set, by our own policy
        own_padded = padded_size(rule, len(real), manifest.max_items_responder)
        self._learn(own_size=len(real), own_padded=own_padded, responder_padding=rule)
        eph, eph_pub = ephemeral(listening.seed)
        shared = x25519_shared(eph, eph_peer)  # a small-order key fails here, before the accept is sent
        own = real + dummies(listening.seed, own_padded - len(real))
        committed = self._commit(listening.seed, real, own)
        accept = {"ephemeral": eph_pub.hex(), "padded_size": own_padded, "padding": rule,
                  "commitment": committed}  # fmt: skip
        out = self._send(T_ACCEPT, canonical_json(accept))
        if manifest.psi_suite in STREAM_SUITES:  # a streaming engine takes over (_handover)
            ctx = dataclasses.replace(ctx, own_size=len(real), own_padded=own_padded, indicators=back)
            hand_over(self, shared, ctx, real, listening.seed)
            return out
        i2r, r2i = traffic_keys(shared, self._transcript.hash)
        self._keys = (i2r, r2i)
        modes = (cast("Mode", manifest.mode),)
        saved = self._restoring.psi if self._restoring is not None else None
        psi: PsiResponder | OtResponder
        if manifest.psi_suite == OT_PSI_SUITE:  # live transports only: nothing to restore
            psi = OtResponder(
                own, allowed_modes=modes, seed=psi_seed(listening.seed), peer_size=ctx.peer_padded,
                session_id=manifest.session_id,
            )  # fmt: skip
        elif saved is not None:  # restoring: the PSI party from its own saved state (no PSI work redone)
            psi = PsiResponder.restore_state(
                saved, own, allowed_modes=modes, executor=self._executor, max_peer_items=ctx.peer_padded,
                progress=self._progress,
            )  # fmt: skip
        else:
            psi = PsiResponder(own, allowed_modes=modes, seed=psi_seed(listening.seed),
                               executor=self._executor, max_peer_items=ctx.peer_padded,
                               progress=self._progress)  # fmt: skip
        ctx = dataclasses.replace(ctx, own_size=len(real), own_padded=own_padded, indicators=back)
        work: Established[PsiResponder | OtResponder] = Established(ctx, Sealer(r2i), Opener(i2r), psi,
                                                                    listening.seed)  # fmt: skip
        self._work = work
        return out

    def _on_request(self, msg: Message) -> Step:
        work: Established[PsiResponder | OtResponder] = self._phase(Established)
        response = psi_boundary(work.psi.respond, work.opener.open(msg.header.raw, msg.body))
        if response is None:  # pragma: no cover - the PSI responder always answers
            raise LocalProtocolError("the PSI responder returned no response")
        if isinstance(work.psi, OtResponder) and work.psi.next_message_expected == "request":
            return SessionState.AWAIT_REQUEST, self._send(T_DATA, response, work.sealer)  # the OT rounds
        confirm = mode_spec(work.ctx.manifest.mode).confirm  # the result waits for the initiator's confirm
        result = None if confirm else make_result(work.ctx, work.psi.result, self._transcript.hash)
        out = self._send(T_DATA, response, work.sealer)
        self._own_set_sent = True
        if result is None:
            return SessionState.AWAIT_CONFIRM, out
        self._result = dataclasses.replace(result, transcript_hash=self._transcript.hash)
        self._outcome = ("completed", None, None)
        return SessionState.DONE, out

    def _on_confirm(self, msg: Message) -> Step:
        work: Established[PsiResponder | OtResponder] = self._phase(Established)
        psi_boundary(work.psi.finish, work.opener.open(msg.header.raw, msg.body))
        self._result = make_result(work.ctx, work.psi.result, self._transcript.hash)
        self._outcome = ("completed", None, None)
        return SessionState.DONE, None
