"""The initiator: proposes the manifest, sends the hello, then the PSI request (and confirm)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

from .._derive import new_seed
from .._progress import ProgressCallback
from .._text import safe_text
from ..canonical import CANON_VERSION
from ..errors import InvalidParameter, LocalProtocolError, MalformedFile
from ..executors import Executor, resolve_executor
from ..otpsi import OtInitiator
from ..psi import IndicatorItems, Mode, response_size
from ..psi import Initiator as PsiInitiator
from ._base import ACCEPT_MEMBERS, REFUSE_MEMBERS, Clock, PartyBase, Rng, psi_boundary
from ._canonjson import canonical_json
from ._handover import hand_over
from ._items import own_items
from ._phases import Established, Proposal
from ._saved import SavedState, items_binding
from ._seeded import dummies, ephemeral, psi_seed, session_id_source
from ._states import INITIATOR_TABLE, Event, SessionState
from .channel import (
    ROLE_INITIATOR,
    T_DATA,
    T_HELLO,
    Message,
    Opener,
    Sealer,
    traffic_keys,
    x25519_shared,
)
from .errors import MalformedMessage, Refused
from .identity import Identity, PublicIdentity
from .manifest import OT_PSI_SUITE, PSI_SUITE, STREAM_SUITES, AuditTerms, Manifest
from .padding import PADDING_RULES, padded_size
from .result import ResultContext, make_result

__all__ = ["InitiatorSession"]

Step = tuple[SessionState, bytes | None]


def _canon_version(indicators: IndicatorItems | None, manifest: Manifest | None, given: int | None) -> int:
    """The canon version of the session: the indicators', the manifest's or the one given (all agreeing)."""
    named = {v for v in (given, manifest.canon_version if manifest else None,
                         indicators.canon_version if isinstance(indicators, IndicatorItems) else None)
             if v is not None}  # fmt: skip
    if len(named) > 1:
        raise InvalidParameter("the indicators, the manifest and canon_version name different canon versions")
    return named.pop() if named else CANON_VERSION


def _own_items(
    given: IndicatorItems | list[bytes], kinds: Iterable[str] | None
) -> tuple[list[bytes], IndicatorItems | None, tuple[str, ...]]:
    """The distinct own items, the indicators they come from (not for raw items) and the kinds."""
    if isinstance(given, list):
        return given, None, tuple(sorted(set(kinds))) if kinds is not None else ("bytes",)
    kinds = tuple(sorted(set(kinds if kinds is not None else given.kinds)))
    extra = [k for k in given.kinds if k not in kinds]
    if extra:
        raise InvalidParameter(f"items of kinds outside the manifest: {', '.join(sorted(extra))}")
    chosen = given.select(kinds)
    return chosen.items, chosen, kinds


class InitiatorSession(PartyBase):
    """The party that proposes the manifest and sends the first message.

    Items are given as exactly one of ``indicators`` (:class:`~blindmatch.psi.IndicatorItems`, built once
    elsewhere, e.g. ``IndicatorSet.psi_items().indicators``), ``items_by_kind`` (``{kind: canonical
    values}``, converted here into one) or raw ``items`` (byte strings). ``kinds`` defaults to the kinds
    of the indicators (``("bytes",)`` for raw items); ``SessionResult.matched`` maps back through them.
    ``max_items`` is one cap for both sides or ``(initiator_cap, responder_cap)``. Pass ``manifest=``
    instead of the manifest parameters to propose a manifest built elsewhere (its keys must be ours and
    the peer's). ``prompt_profile`` names the fingerprint profile of ``prompt-band`` items in the manifest
    (see :class:`Manifest`). ``progress`` (``progress(stage, done, total)``, see :mod:`blindmatch.psi`) is
    handed to the PSI party; padding dummies are counted in its totals. ``audit`` (:class:`AuditTerms`)
    names the auditor both sides escrow an audit package to (docs/audit.md). ``canon_version`` is the
    canon version of the indicators (default: that of ``indicators``, else :data:`CANON_VERSION`); the
    manifest carries it and a responder under another refuses. ``psi_suite`` picks the PSI engine: the DH
    engine (default, ``PSI_SUITE``) or the semi-honest OT-extension engine (``OT_PSI_SUITE``,
    docs/protocol-ot.md: modes intersection and mutual, live transports only, never audited); with the
    streaming engine (``STREAM_PSI_SUITE``) use :class:`blindmatch.streaming.StreamingInitiatorSession`.
    """

    _role = ROLE_INITIATOR
    _table = INITIATOR_TABLE

    def __init__(
        self,
        identity: Identity,
        peer: PublicIdentity | bytes,
        *,
        indicators: IndicatorItems | None = None,
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
        workers: int | None = None,
        executor: Executor | None = None,
        prompt_profile: str | None = None,
        progress: ProgressCallback | None = None,
        audit: AuditTerms | None = None,
        canon_version: int | None = None,
        psi_suite: str | None = None,
    ) -> None:
        super().__init__(identity, rng, clock, resolve_executor(workers, executor), progress)
        if isinstance(peer, bytes | bytearray):
            peer = PublicIdentity(bytes(peer))
        if not isinstance(peer, PublicIdentity):
            raise TypeError("peer must be a PublicIdentity or 32 bytes")
        version = _canon_version(indicators, manifest, canon_version)
        real, back, kinds = _own_items(own_items(indicators, items_by_kind, items, version), kinds)
        seed = new_seed(rng)  # the one draw: every other choice, the session id included, derives from it
        if manifest is None:
            if max_items is None or purpose is None:
                raise InvalidParameter("max_items and purpose are required (or pass a manifest)")
            manifest = Manifest.propose(
                initiator=identity.public, responder=peer, mode=mode, kinds=kinds, max_items=max_items,
                padding=padding, purpose=purpose, validity_s=validity_s, rng=session_id_source(seed),
                clock=clock, prompt_profile=prompt_profile, audit=audit, canon_version=version,
                psi_suite=psi_suite or PSI_SUITE,
            )  # fmt: skip
        elif psi_suite is not None and manifest.psi_suite != psi_suite:
            raise InvalidParameter("psi_suite differs from the given manifest's (pass it in one place)")
        elif audit is not None and manifest.audit != audit:
            raise InvalidParameter("audit terms differ from the given manifest's (pass them in one place)")
        elif manifest.initiator_key != identity.public.raw or manifest.responder_key != peer.raw:
            raise InvalidParameter("the manifest names other identities than this session's")
        elif not set(kinds) <= set(manifest.kinds):
            raise InvalidParameter("the items' kinds are not all in the manifest")
        own_padded = padded_size(manifest.padding, len(real), manifest.max_items_initiator)
        self._learn(
            manifest=manifest, session_id=manifest.session_id, peer_key=peer.raw, peer_name=peer_name,
            own_size=len(real), own_padded=own_padded,
        )  # fmt: skip
        padded = real + dummies(seed, own_padded - len(real))
        self._work = Proposal(manifest, peer.raw, peer_name, real, back, own_padded, seed, padded)
        self._binding = items_binding(seed, real)

    @classmethod
    def _restore_kwargs(cls, saved: SavedState, kwargs: dict[str, Any]) -> None:
        if saved.manifest is None:
            raise MalformedFile("an initiator's session state lacks its manifest")
        kwargs["manifest"] = Manifest.from_dict(saved.manifest)

    def start(self) -> bytes:
        """The hello message (signed manifest and ephemeral key). Call once."""
        if (self._state, Event.START) not in self._table:
            raise LocalProtocolError("start() can be called only once")
        out = self._move(Event.START)
        if out is None:  # pragma: no cover - the hello handler always sends
            raise LocalProtocolError("no hello")
        return out

    def _on_start(self) -> Step:
        prop = self._phase(Proposal)
        m = prop.manifest
        now = self._clock()
        if not m.not_before <= now <= m.not_after:
            raise InvalidParameter("the manifest is not valid at the current time")
        self._started_at = now
        _, eph_pub = ephemeral(prop.seed)
        committed = self._commit(prop.seed, prop.items, prop.padded)
        body = canonical_json({
            "manifest": m.to_dict(), "ephemeral": eph_pub.hex(), "padded_size": prop.own_padded,
            "commitment": committed,
        })  # fmt: skip
        return SessionState.AWAIT_ACCEPT, self._send(T_HELLO, body)

    def _expected_payload(self) -> int:
        """The response: our list re-blinded (hashes) and theirs blinded (the OT engine: its next message)."""
        work = self._phase(Established)
        if isinstance(work.psi, OtInitiator):
            return work.psi.expected_response_size()
        return response_size(work.ctx.own_padded, work.ctx.peer_padded)

    def _on_refuse(self, msg: Message) -> Step:
        reason = self._json_body(msg, REFUSE_MEMBERS)["reason"]
        if not isinstance(reason, str):
            raise MalformedMessage("refusal without a reason")
        raise Refused(safe_text(reason, 500))  # the peer's text: never printed as it came

    def _on_accept(self, msg: Message) -> Step:
        doc = self._json_body(msg, ACCEPT_MEMBERS)
        prop = self._phase(Proposal)
        eph, _ = ephemeral(prop.seed)
        eph_peer = self._ephemeral_of(doc)
        rule = doc.get("padding")
        if not isinstance(rule, str) or rule not in PADDING_RULES:
            raise MalformedMessage(f"the accept's padding must be one of {', '.join(PADDING_RULES)}")
        peer_padded = self._check_declared_size(doc.get("padded_size"), "responder", rule)
        self._commitment_of(doc)  # well formed; only an auditor can open it
        self._learn(peer_padded=peer_padded, responder_padding=rule)
        shared = x25519_shared(eph, eph_peer)
        ctx = ResultContext(self.role, prop.manifest, prop.peer_key, prop.peer_name, len(prop.items),
                            prop.own_padded, peer_padded, prop.indicators)  # fmt: skip
        if prop.manifest.psi_suite in STREAM_SUITES:  # a streaming engine takes over (_handover)
            hand_over(self, shared, ctx, prop.items, prop.seed)
            return SessionState.AWAIT_RESPONSE, None
        i2r, r2i = traffic_keys(shared, self._transcript.hash)
        self._keys = (i2r, r2i)
        own = prop.padded
        psi, request = self._psi_party(own, cast("Mode", prop.manifest.mode), prop.seed, peer_padded)
        work = Established(ctx, Sealer(i2r), Opener(r2i), psi, prop.seed, request)
        self._work = work
        out = self._send(T_DATA, request, work.sealer)
        self._own_set_sent = True
        return SessionState.AWAIT_RESPONSE, out

    def _psi_party(
        self, own: list[bytes], mode: Mode, seed: bytes, peer_padded: int
    ) -> tuple[PsiInitiator | OtInitiator, bytes]:
        """The PSI initiator and its request: a new one, or (restoring) the saved one and its request."""
        manifest = self._phase(Proposal).manifest
        if manifest.psi_suite == OT_PSI_SUITE:  # live transports only: nothing to restore
            ot = OtInitiator(
                own, mode, seed=psi_seed(seed), peer_size=peer_padded, session_id=manifest.session_id
            )
            return ot, ot.start()
        saved = self._restoring
        if saved is not None and saved.psi is not None and saved.psi_request is not None:
            psi = PsiInitiator.restore_state(saved.psi, own, mode, executor=self._executor,
                                             max_peer_items=peer_padded, progress=self._progress)  # fmt: skip
            return psi, saved.psi_request
        psi = PsiInitiator(own, mode, seed=psi_seed(seed), executor=self._executor,
                           max_peer_items=peer_padded, progress=self._progress)  # fmt: skip
        return psi, psi.start()

    def _on_response(self, msg: Message) -> Step:
        work: Established[PsiInitiator | OtInitiator] = self._phase(Established)
        payload = work.opener.open(msg.header.raw, msg.body)
        confirm = psi_boundary(work.psi.finish, payload)
        if not work.psi.done:  # the OT engine's next request (its rounds; docs/protocol-ot.md)
            if confirm is None:  # pragma: no cover - an unfinished party always has a next message
                raise LocalProtocolError("the PSI party neither finished nor sent a next message")
            return SessionState.AWAIT_RESPONSE, self._send(T_DATA, confirm, work.sealer)
        result = make_result(work.ctx, work.psi.result, self._transcript.hash)  # sizes checked before sending
        out = self._send(T_DATA, confirm, work.sealer) if confirm is not None else None
        self._result = dataclasses.replace(result, transcript_hash=self._transcript.hash)
        self._outcome = ("completed", None, None)
        return SessionState.DONE, out
