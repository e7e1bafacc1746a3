"""The manifest (what both sides agree to before any data moves) and the responder's local policy."""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._text import safe_text, unsafe_characters
from .._version import __version__
from ..canonical import CANON_VERSION, check_canon_version
from ..errors import InvalidParameter
from ..hazmat.group import SUITE_ID
from ..otpsi._party import MAX_ITEMS as OT_MAX_ITEMS
from ..otpsi._party import SUITE_ID as OT_SUITE_ID
from ..otpsi._wire import OT_MODES
from ..psi._modes import MODES as _PSI_MODES
from ..psi._modes import Learns, mode_spec
from .errors import MalformedMessage, UnsupportedVersion
from .identity import PublicIdentity
from .padding import PADDING_RULES

__all__ = [
    "DEFAULT_PADDINGS",
    "MODES",
    "OT_PSI_SUITE",
    "PROTOCOL",
    "PSI_SUITE",
    "PSI_SUITES",
    "STREAM_OT_PSI_SUITE",
    "STREAM_PSI_SUITE",
    "STREAM_SUITES",
    "AuditTerms",
    "Manifest",
    "Policy",
]

#: Session protocol name and version (the wire format of docs/sessions.md). Version 2: the manifest's
#: ``padding`` is the initiator's own rule and the responder states its own in its accept.
PROTOCOL = "blindmatch-session/2"
#: Channel suite: signatures, key agreement, KDF and AEAD of the session layer.
CHANNEL_SUITE = "ed25519/x25519/hkdf-sha256/chacha20poly1305"
#: The PSI suite the payloads use (docs/protocol.md).
PSI_SUITE = SUITE_ID.decode("ascii")
#: The OT-extension engine's suite (docs/protocol-ot.md): semi-honest, modes intersection and mutual.
OT_PSI_SUITE = OT_SUITE_ID
#: The streaming DH engine's suite (docs/streaming.md; ``blindmatch.streaming.STREAM_ID``): every mode, live
#: transports only, never audited.
STREAM_PSI_SUITE = "blindmatch-stream-v1/x25519-ell2ro-sha512"
#: The OT engine streaming in buckets (docs/streaming.md, "The OT engine in buckets";
#: ``blindmatch.streaming.OT_STREAM_ID``): semi-honest, modes intersection and mutual, live only.
STREAM_OT_PSI_SUITE = "blindmatch-stream-ot-v1/kkrt16-buckets-blake2b"
#: The suites a session hands over to ``blindmatch.streaming``.
STREAM_SUITES = (STREAM_PSI_SUITE, STREAM_OT_PSI_SUITE)
PSI_SUITES = (PSI_SUITE, OT_PSI_SUITE, STREAM_PSI_SUITE, STREAM_OT_PSI_SUITE)
MODES: tuple[str, ...] = _PSI_MODES
MAX_ITEMS_LIMIT = 1 << 26
#: A responder's padding rules unless its policy says otherwise: never its exact size.
DEFAULT_PADDINGS: tuple[str, ...] = ("pow2", "cap")
SESSION_ID_BYTES = 16
MAX_PURPOSE = 300
MAX_KINDS = 64
#: The indicator kind of near-duplicate prompt bands (``blindmatch.fingerprints.BAND_KIND``).
BAND_KIND = "prompt-band"


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not purpose or len(purpose) > MAX_PURPOSE:
        raise InvalidParameter(f"purpose is one non-empty line of at most {MAX_PURPOSE} characters")
    if unsafe_characters(purpose):  # controls (ESC, CSI), bidi and other format characters, separators
        raise InvalidParameter(
            "purpose is a single line without control, escape, bidi or other format characters"
        )


@dataclass(frozen=True)
class AuditTerms:
    """An audited session's terms (docs/audit.md): the auditor both sides escrow their audit packages to
    (its Ed25519 public key), the routine-audit rate per side in parts per million, and the time after
    the session's end by which both packages must reach the auditor."""

    auditor: bytes
    rate_ppm: int = 10_000
    deadline_s: int = 14 * 86400

    def __post_init__(self) -> None:
        if isinstance(self.auditor, PublicIdentity):
            object.__setattr__(self, "auditor", self.auditor.raw)
        if not isinstance(self.auditor, bytes) or len(self.auditor) != 32:
            raise InvalidParameter("the auditor is a 32-byte Ed25519 public key")
        PublicIdentity(self.auditor)  # a valid point, or InvalidParameter / ValueError
        if (
            not isinstance(self.rate_ppm, int)
            or isinstance(self.rate_ppm, bool)
            or not 0 <= self.rate_ppm <= 10**6
        ):
            raise InvalidParameter("rate_ppm is an integer in 0..1000000")
        if (
            not isinstance(self.deadline_s, int)
            or isinstance(self.deadline_s, bool)
            or not 60 <= self.deadline_s <= 366 * 86400
        ):
            raise InvalidParameter("deadline_s is a whole number of seconds from 60 to one year")

    def to_dict(self) -> dict[str, Any]:
        return {"auditor": self.auditor.hex(), "rate_ppm": self.rate_ppm, "deadline_s": self.deadline_s}

    @classmethod
    def from_dict(cls, doc: Any) -> AuditTerms:
        if not isinstance(doc, Mapping) or set(doc) != {"auditor", "rate_ppm", "deadline_s"}:
            raise TypeError("audit must be {auditor, rate_ppm, deadline_s}")
        return cls(_hex(doc["auditor"], 32), doc["rate_ppm"], doc["deadline_s"])


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not 1 <= len(kind) <= 64 or not kind.isascii() or not kind.isprintable():
        raise InvalidParameter("an indicator kind is 1-64 printable ASCII characters")


@dataclass(frozen=True)
class Manifest:
    """The terms of one session, proposed by the initiator, signed inside its hello.

    ``padding`` is the rule the initiator pads its own set with, and the rule it proposes to the
    responder; the responder pads its own set as its :class:`Policy` decides and says so in its accept.
    """

    session_id: bytes
    mode: str
    kinds: tuple[str, ...]
    max_items_initiator: int
    max_items_responder: int
    padding: str
    purpose: str
    not_before: int
    not_after: int
    initiator_key: bytes
    responder_key: bytes
    protocol: str = PROTOCOL
    channel_suite: str = CHANNEL_SUITE
    psi_suite: str = PSI_SUITE
    library_version: str = __version__
    #: Tag of the fingerprint profile the ``prompt-band`` items were made with (``None``: no bands).
    prompt_profile: str | None = None
    #: The audit terms of an audited session (docs/audit.md); ``None``: not audited.
    audit: AuditTerms | None = None
    #: The canon version both sides' indicators are canonicalized under (docs/canonicalization.md).
    canon_version: int = CANON_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.session_id, bytes) or len(self.session_id) != SESSION_ID_BYTES:
            raise InvalidParameter(f"session_id is {SESSION_ID_BYTES} bytes")
        if self.mode not in MODES:
            raise InvalidParameter(f"mode must be one of {', '.join(MODES)}")
        if not isinstance(self.kinds, tuple) or not 1 <= len(self.kinds) <= MAX_KINDS:
            raise InvalidParameter(f"kinds is a tuple of 1-{MAX_KINDS} kinds")
        for k in self.kinds:
            _check_kind(k)
        if list(self.kinds) != sorted(set(self.kinds)):
            raise InvalidParameter("kinds are sorted and distinct")
        for cap in (self.max_items_initiator, self.max_items_responder):
            if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_ITEMS_LIMIT:
                raise InvalidParameter(f"a cap is an integer in 1..{MAX_ITEMS_LIMIT}")
        if self.padding not in PADDING_RULES:
            raise InvalidParameter(f"padding must be one of {', '.join(PADDING_RULES)}")
        _check_purpose(self.purpose)
        for t in (self.not_before, self.not_after):
            if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < 2**40:
                raise InvalidParameter("validity bounds are whole Unix seconds")
        if self.not_after <= self.not_before:
            raise InvalidParameter("not_after must be later than not_before")
        for key in (self.initiator_key, self.responder_key):
            if not isinstance(key, bytes) or len(key) != 32:
                raise InvalidParameter("identity keys are 32 bytes")
        for s in (self.protocol, self.channel_suite, self.psi_suite, self.library_version):
            if not isinstance(s, str) or not 1 <= len(s) <= 100 or not s.isascii() or not s.isprintable():
                raise InvalidParameter("protocol, suites and version are short printable ASCII strings")
        if self.prompt_profile is not None:
            _check_kind(self.prompt_profile)
            if BAND_KIND not in self.kinds:
                raise InvalidParameter(f"a prompt profile is named only with the kind {BAND_KIND!r}")
        if self.audit is not None and not isinstance(self.audit, AuditTerms):
            raise InvalidParameter("audit must be AuditTerms or None")
        if self.psi_suite not in PSI_SUITES:
            raise InvalidParameter(f"psi_suite must be one of {', '.join(PSI_SUITES)}")
        if self.psi_suite in (OT_PSI_SUITE, STREAM_OT_PSI_SUITE) and self.mode not in OT_MODES:
            raise InvalidParameter("the OT engine offers the modes intersection and mutual only")
        ot = self.psi_suite == OT_PSI_SUITE
        if ot and max(self.max_items_initiator, self.max_items_responder) > OT_MAX_ITEMS:
            raise InvalidParameter(f"the OT engine takes at most {OT_MAX_ITEMS} items a side")
        if self.psi_suite != PSI_SUITE and self.audit is not None:
            raise InvalidParameter("audited sessions run on the DH engine only (docs/protocol-ot.md)")
        check_canon_version(self.canon_version)

    @classmethod
    def propose(
        cls,
        *,
        initiator: PublicIdentity,
        responder: PublicIdentity,
        mode: str,
        kinds: Iterable[str],
        max_items: int | tuple[int, int],
        padding: str = "pow2",
        purpose: str,
        validity_s: int = 3600,
        rng: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.time,
        prompt_profile: str | None = None,
        audit: AuditTerms | None = None,
        canon_version: int = CANON_VERSION,
        psi_suite: str = PSI_SUITE,
    ) -> Manifest:
        """A manifest with a random session id, valid from now for ``validity_s`` seconds.

        ``max_items`` is one cap for both sides or ``(initiator_cap, responder_cap)``. ``prompt_profile``
        is the :attr:`~blindmatch.fingerprints.FingerprintProfile.tag` of the ``prompt-band`` items, so a
        responder that fingerprints under another profile refuses instead of silently matching nothing.
        ``audit`` names the auditor (docs/audit.md).
        """
        if isinstance(max_items, tuple):
            cap_i, cap_r = max_items
        else:
            cap_i = cap_r = max_items
        if not isinstance(validity_s, int) or validity_s < 1:
            raise InvalidParameter("validity_s is a positive number of seconds")
        now = int(clock())
        return cls(
            session_id=rng(SESSION_ID_BYTES),
            mode=mode,
            kinds=tuple(sorted(set(kinds))),
            max_items_initiator=cap_i,
            max_items_responder=cap_r,
            padding=padding,
            purpose=purpose,
            not_before=now,
            not_after=now + validity_s,
            initiator_key=initiator.raw,
            responder_key=responder.raw,
            prompt_profile=prompt_profile,
            audit=audit,
            canon_version=canon_version,
            psi_suite=psi_suite,
        )

    def cap_of(self, role: str) -> int:
        return self.max_items_initiator if role == "initiator" else self.max_items_responder

    def learns(self, role: str) -> Learns:
        """What ``role`` learns in this mode: ``"intersection"``, ``"count"`` or ``"nothing"``."""
        return mode_spec(self.mode).learns(role)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "protocol": self.protocol,
            "channel_suite": self.channel_suite,
            "psi_suite": self.psi_suite,
            "library_version": self.library_version,
            "session_id": self.session_id.hex(),
            "mode": self.mode,
            "kinds": list(self.kinds),
            "max_items": {"initiator": self.max_items_initiator, "responder": self.max_items_responder},
            "padding": self.padding,
            "canon_version": self.canon_version,
            "purpose": self.purpose,
            "validity": {"not_before": self.not_before, "not_after": self.not_after},
            "initiator_key": self.initiator_key.hex(),
            "responder_key": self.responder_key.hex(),
        }
        if self.prompt_profile is not None:  # absent otherwise: manifests without bands are unchanged
            doc["prompt_profile"] = self.prompt_profile
        if self.audit is not None:  # absent otherwise, like prompt_profile
            doc["audit"] = self.audit.to_dict()
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Manifest:
        """Parse a manifest received from a peer; any defect raises ``MalformedMessage``."""
        try:
            if not isinstance(doc, Mapping):
                raise TypeError("manifest must be an object")
            if doc["protocol"] != PROTOCOL:
                raise UnsupportedVersion(f"unsupported session protocol {safe_text(doc['protocol'], 40)!r}")
            if doc["channel_suite"] != CHANNEL_SUITE:
                raise UnsupportedVersion("unsupported channel suite")
            if doc["psi_suite"] not in PSI_SUITES:
                raise UnsupportedVersion("unsupported PSI suite")
            caps, validity = doc["max_items"], doc["validity"]
            kinds = doc["kinds"]
            if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
                raise TypeError("kinds must be a list of strings")
            manifest = cls(
                session_id=_hex(doc["session_id"], SESSION_ID_BYTES),
                mode=doc["mode"],
                kinds=tuple(kinds),
                max_items_initiator=caps["initiator"],
                max_items_responder=caps["responder"],
                padding=doc["padding"],
                purpose=doc["purpose"],
                not_before=validity["not_before"],
                not_after=validity["not_after"],
                initiator_key=_hex(doc["initiator_key"], 32),
                responder_key=_hex(doc["responder_key"], 32),
                library_version=doc["library_version"],
                prompt_profile=doc.get("prompt_profile"),
                audit=AuditTerms.from_dict(doc["audit"]) if "audit" in doc else None,
                canon_version=doc["canon_version"],
                psi_suite=doc["psi_suite"],
            )
        except UnsupportedVersion:
            raise
        except (KeyError, TypeError, ValueError, InvalidParameter) as exc:
            raise MalformedMessage(
                f"malformed manifest ({type(exc).__name__}: {safe_text(exc, 80)})"
            ) from None
        if manifest.to_dict() != dict(doc):  # one form only: no other members, no null prompt_profile
            raise MalformedMessage("the manifest has members other than the documented ones")
        return manifest


def _hex(value: Any, n: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * n or value != value.lower():
        raise ValueError(f"expected {2 * n} lowercase hex digits")
    return bytes.fromhex(value)


@dataclass(frozen=True)
class Policy:
    """What a responder agrees to. A manifest outside it is refused with a signed reason.

    ``allowed_peers``: names from the trust store that may start sessions (``None``: every trusted peer).
    ``modes``, ``kinds`` (``None``: any): what may be proposed. ``paddings``: the rules we pad our own set
    with, in order of preference: the initiator's proposed rule when it is one of them, else the first
    (see :meth:`padding_for`; the initiator's own padding is its own business and never refused).
    ``max_items_initiator``: the largest initiator set (cap) accepted. ``max_items_responder``: our own
    public cap: our set never holds more (:class:`~blindmatch.session.ResponderSession` checks that
    locally, once, when it is made), and a proposal must give the responder at least this cap (and, when
    we pad with ``cap``, exactly this cap, so the padding we do is bounded by our own policy). The decision
    never looks at the size of our real set, so a refusal tells the initiator nothing about it.
    ``max_validity_s``: the longest validity window; ``clock_skew_s``: tolerance when checking that window
    against the local clock. ``prompt_profile``: the fingerprint profile tag our ``prompt-band`` items are
    made with (``None``: we hold no bands); a manifest naming another profile, naming one when we hold
    none, or proposing prompts without our profile is refused. ``auditor``: the Ed25519 public key of
    the one auditor we escrow audit packages to (docs/audit.md): a manifest naming another auditor, or
    none when we name one, is refused, and so is an audited manifest when we name none;
    ``min_audit_rate_ppm`` / ``max_audit_deadline_s`` bound the audit terms we accept (a routine-audit rate
    of 0 would make our own coin useless: in the count-only modes it is the only deterrent).
    ``canon_version``: the canon version our indicators are canonicalized under; a manifest naming another
    is refused (items of two versions would silently never match). ``psi_suites``: the PSI engines we
    run (default: the DH engine only; add ``OT_PSI_SUITE`` to opt in to the semi-honest OT-extension
    engine, docs/protocol-ot.md, with peers trusted to follow the protocol); a manifest naming another is
    refused.
    """

    allowed_peers: frozenset[str] | None = None
    modes: frozenset[str] = field(default_factory=lambda: frozenset(MODES))
    kinds: frozenset[str] | None = None
    paddings: tuple[str, ...] = DEFAULT_PADDINGS
    max_items_initiator: int = 1 << 20
    max_items_responder: int = 1 << 17
    max_validity_s: int = 24 * 3600
    clock_skew_s: int = 300
    prompt_profile: str | None = None
    auditor: bytes | None = None
    min_audit_rate_ppm: int = 10_000
    max_audit_deadline_s: int = 30 * 86400
    canon_version: int = CANON_VERSION
    #: The PSI engines we run (``PSI_SUITES``: the DH engine and the semi-honest OT engine).
    psi_suites: frozenset[str] = frozenset({PSI_SUITE})

    def __post_init__(self) -> None:
        if not isinstance(self.psi_suites, frozenset | set) or not set(self.psi_suites) <= set(PSI_SUITES):
            raise InvalidParameter(f"psi_suites is a set of {', '.join(PSI_SUITES)}")
        object.__setattr__(self, "psi_suites", frozenset(self.psi_suites))
        if isinstance(self.auditor, PublicIdentity):
            object.__setattr__(self, "auditor", self.auditor.raw)
        if self.auditor is not None and (not isinstance(self.auditor, bytes) or len(self.auditor) != 32):
            raise InvalidParameter("the policy's auditor is a 32-byte Ed25519 public key")
        rules = self.paddings
        if (
            not isinstance(rules, tuple | list)
            or not rules
            or any(r not in PADDING_RULES for r in rules)
            or len(set(rules)) != len(rules)
        ):
            raise InvalidParameter(
                f"paddings is a non-empty ordered list of distinct rules from {', '.join(PADDING_RULES)}"
            )
        object.__setattr__(self, "paddings", tuple(rules))

    def padding_for(self, manifest: Manifest) -> str:
        """The rule we pad our own set with in ``manifest``'s session: the proposed one when we allow it,
        else our first choice."""
        return manifest.padding if manifest.padding in self.paddings else self.paddings[0]

    def refusal(self, manifest: Manifest, peer_name: str) -> str | None:
        """The reason to refuse ``manifest`` from ``peer_name``, or ``None`` to accept it.

        Only the manifest and this (public) policy decide: never the size of the responder's real set.
        """
        if self.allowed_peers is not None and peer_name not in self.allowed_peers:
            return "this peer is not allowed to start sessions"
        if manifest.mode not in self.modes:
            return f"mode {manifest.mode!r} is not allowed"
        if manifest.psi_suite not in self.psi_suites:
            return f"the PSI engine {manifest.psi_suite!r} is not allowed here"
        if manifest.canon_version != self.canon_version:
            return (
                f"canon version {manifest.canon_version} proposed; our indicators are canon version "
                f"{self.canon_version}"
            )
        if self.kinds is not None:
            bad = [k for k in manifest.kinds if k not in self.kinds]
            if bad:
                return f"kinds not allowed: {', '.join(bad)}"
        if manifest.max_items_initiator > self.max_items_initiator:
            return (
                f"initiator cap {manifest.max_items_initiator} exceeds the limit {self.max_items_initiator}"
            )
        if manifest.max_items_responder < self.max_items_responder:
            return (
                f"responder cap {manifest.max_items_responder} is below this responder's cap "
                f"{self.max_items_responder}"
            )
        if self.padding_for(manifest) == "cap" and manifest.max_items_responder > self.max_items_responder:
            return (
                "we pad our set with 'cap': the responder cap must be this responder's cap "
                f"{self.max_items_responder} (proposed {manifest.max_items_responder})"
            )
        if manifest.not_after - manifest.not_before > self.max_validity_s:
            return f"validity window longer than {self.max_validity_s} s"
        return self._audit_refusal(manifest) or self._prompt_refusal(manifest)

    def _audit_refusal(self, manifest: Manifest) -> str | None:
        terms, ours = manifest.audit, self.auditor
        if terms is None and ours is not None:
            return f"this responder takes only audited sessions (auditor {PublicIdentity(ours).fingerprint})"
        if terms is not None and ours is None:
            return "audited sessions are not offered by this responder (no auditor configured)"
        if terms is not None and ours is not None and not hmac.compare_digest(terms.auditor, ours):
            return (
                f"the proposed auditor {PublicIdentity(terms.auditor).fingerprint} is not ours "
                f"({PublicIdentity(ours).fingerprint})"
            )
        if terms is not None and terms.rate_ppm < self.min_audit_rate_ppm:
            return (
                f"routine-audit rate {terms.rate_ppm} ppm is below our minimum of {self.min_audit_rate_ppm}"
            )
        if terms is not None and terms.deadline_s > self.max_audit_deadline_s:
            return f"package deadline {terms.deadline_s} s exceeds our maximum {self.max_audit_deadline_s} s"
        return None

    def _prompt_refusal(self, manifest: Manifest) -> str | None:
        theirs, ours = manifest.prompt_profile, self.prompt_profile
        if theirs is None and BAND_KIND in manifest.kinds and ours is not None:
            return f"prompt bands without a fingerprint profile (we use {ours})"
        if theirs is not None and ours is None:
            return f"near-duplicate prompt matching (profile {theirs}) is not offered by this responder"
        if theirs is not None and theirs != ours:
            return f"prompt fingerprint profiles differ: proposed {theirs}, we use {ours}"
        if theirs is None and ours is not None and "prompt" in manifest.kinds:
            return f"we match prompts only as near-duplicates (profile {ours}); exact prompts are not offered"
        return None
