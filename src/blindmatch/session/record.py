"""Disclosure records: what a session disclosed, signed by the party that ran it.

A record is a JSON object (schema: docs/disclosure-record.md). Its ``signature`` member holds an Ed25519
signature over ``b"blindmatch-record/v1\\x00" || canonical_json(record without "signature")``.
Records hold sizes and counts, never the matched indicators themselves.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._strictjson import DuplicateKeyError, object_without_duplicates
from .._text import safe_text
from .._version import __version__
from ..errors import InvalidParameter
from ..psi import mode_spec
from ._canonjson import canonical_json
from .errors import InvalidRecord
from .identity import Identity, PublicIdentity
from .manifest import CHANNEL_SUITE, PROTOCOL, PSI_SUITE, Manifest
from .result import SessionResult

__all__ = [
    "RECORD_FORMAT",
    "RECORD_VERSION",
    "RECORD_VERSIONS",
    "RecordSummary",
    "iso_time",
    "record_body",
    "sign_record",
    "verify_record",
]

RECORD_FORMAT = "blindmatch-disclosure-record"
RECORD_VERSION = 2
#: Versions ``verify_record`` reads: 1 (one ``padding`` rule for both sides) and 2 (one rule per side).
RECORD_VERSIONS = (1, 2)
_CONTEXT = b"blindmatch-record/v1\x00"
_MAX_RECORD_BYTES = 1 << 20


def iso_time(t: float | None) -> str | None:
    """Unix seconds as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or ``None``."""
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


@dataclass(frozen=True)
class RecordSummary:
    """Everything a disclosure record says, as one immutable value (``party`` fills it in when asked).

    ``None`` marks what the party never reached (no manifest received, no size declared, ...); the record
    shows it as ``null``. ``status`` is ``completed``, ``refused`` or ``failed``.
    """

    role: str
    writer: PublicIdentity
    session_id: bytes | None
    peer_key: bytes | None
    peer_name: str | None
    manifest: Manifest | None
    own_padded: int | None
    peer_padded: int | None
    result: SessionResult | None
    own_set_sent: bool
    transcript_hash: bytes
    messages: int
    bytes_sent: int
    bytes_received: int
    started: float | None
    ended: float | None
    status: str
    error: str | None
    reason: str | None
    #: The rule the responder padded its set with (stated in its accept); ``None`` before the accept.
    responder_padding: str | None = None
    #: An audited session's auditor (Ed25519 key) and the SHA-256 of our sealed audit package.
    auditor: bytes | None = None
    package_sha256: bytes | None = None


def _learned(s: RecordSummary) -> dict[str, Any]:
    m, res = s.manifest, s.result
    learned: dict[str, Any] = {}
    for role in ("initiator", "responder"):
        what = m.learns(role) if m is not None else None
        count: int | None = None
        if res is not None and what != "nothing":
            if role == s.role:
                count = res.count
            elif m is not None and mode_spec(m.mode).confirm:
                count = res.count  # with a confirm, both sides compute the same count
        learned[role] = {"learns": what, "count": count}
    return learned


def _manifest_members(m: Manifest | None, responder_padding: str | None) -> dict[str, Any]:
    if m is None:
        return {"purpose": None, "mode": None, "kinds": None, "padding": None, "caps": None}
    return {
        "purpose": m.purpose,
        "mode": m.mode,
        "kinds": list(m.kinds),
        **({"prompt_profile": m.prompt_profile} if m.prompt_profile else {}),
        "padding": {"initiator": m.padding, "responder": responder_padding},
        "caps": {"initiator": m.max_items_initiator, "responder": m.max_items_responder},
    }


def record_body(s: RecordSummary) -> dict[str, Any]:
    """The unsigned record (docs/disclosure-record.md) for ``s``: a pure function of its input."""
    m = s.manifest
    other = "responder" if s.role == "initiator" else "initiator"
    sizes = {s.role: s.own_padded, other: s.peer_padded}
    peer = PublicIdentity(s.peer_key) if s.peer_key is not None else None
    return {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "role": s.role,
        "session_id": s.session_id.hex() if s.session_id is not None else None,
        "self": {"fingerprint": s.writer.fingerprint, "public_key": s.writer.to_text()},
        "peer": {
            "fingerprint": peer.fingerprint if peer is not None else None,
            "public_key": peer.to_text() if peer is not None else None,
            "name": safe_text(s.peer_name, 200) if s.peer_name is not None else None,
        },
        **_manifest_members(m, s.responder_padding),
        "padded_sizes": {"initiator": sizes["initiator"], "responder": sizes["responder"]},
        "learned": _learned(s),
        "own_set_sent": s.own_set_sent,
        "transcript_hash": s.transcript_hash.hex(),
        "messages": s.messages,
        "wire_bytes": {"sent": s.bytes_sent, "received": s.bytes_received},
        "times": {
            "started": iso_time(s.started),
            "ended": iso_time(s.ended),
            "not_before": iso_time(m.not_before) if m is not None else None,
            "not_after": iso_time(m.not_after) if m is not None else None,
        },
        "versions": {
            "library": __version__,
            "protocol": PROTOCOL,
            "channel_suite": CHANNEL_SUITE,
            "psi_suite": m.psi_suite if m is not None else PSI_SUITE,
            "peer_library": m.library_version if m is not None and s.role == "responder" else None,
        },
        "audit": {
            "auditor": PublicIdentity(s.auditor).to_text(),
            "package_sha256": s.package_sha256.hex() if s.package_sha256 is not None else None,
        }
        if s.auditor is not None
        else None,
        "outcome": {
            "status": s.status,
            "error": s.error,
            "reason": safe_text(s.reason) if s.reason is not None else None,  # may quote the peer
        },
    }


def sign_record(identity: Identity, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` plus a ``signature`` member by ``identity``."""
    if "signature" in body:
        raise InvalidParameter("the record body must not contain a signature yet")
    doc = dict(body)
    sig = identity.sign(_CONTEXT + canonical_json(doc))
    doc["signature"] = {
        "algorithm": "ed25519",
        "public_key": identity.public.to_text(),
        "fingerprint": identity.fingerprint,
        "value": base64.b64encode(sig).decode("ascii"),
    }
    return doc


# Members every record has, with the JSON types they may take (None: JSON null); ``padding`` is a string
# in version 1 and an object in version 2 (checked in _check_schema).
_REQUIRED: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "version": (int,),
    "role": (str,),
    "session_id": (str, type(None)),
    "self": (dict,),
    "peer": (dict,),
    "purpose": (str, type(None)),
    "mode": (str, type(None)),
    "kinds": (list, type(None)),
    "padding": (str, dict, type(None)),
    "caps": (dict, type(None)),
    "padded_sizes": (dict, type(None)),
    "learned": (dict,),
    "own_set_sent": (bool,),
    "transcript_hash": (str, type(None)),
    "messages": (int,),
    "wire_bytes": (dict,),
    "times": (dict,),
    "versions": (dict,),
    "outcome": (dict,),
}


def _padding_v2(padding: Any) -> bool:
    """A version-2 ``padding``: null (no manifest) or each side's rule (the responder's null before its
    accept)."""
    if padding is None:
        return True
    return (
        isinstance(padding, dict)
        and set(padding) == {"initiator", "responder"}
        and isinstance(padding["initiator"], str)
        and isinstance(padding["responder"], str | type(None))
    )


def _check_schema(doc: Mapping[str, Any]) -> None:
    for key, types in _REQUIRED.items():
        if key not in doc:
            raise InvalidRecord(f"record lacks the member {key!r}")
        value = doc[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise InvalidRecord(f"record member {key!r} has the wrong type")
    padding = doc["padding"]
    if doc["version"] == 1 and isinstance(padding, dict):
        raise InvalidRecord("record member 'padding' has the wrong type")
    if doc["version"] >= 2 and not _padding_v2(padding):
        raise InvalidRecord("record member 'padding' must be {initiator: rule, responder: rule or null}")
    if doc["version"] >= 2:
        audit = doc.get("audit", "missing")
        if audit == "missing":
            raise InvalidRecord("record lacks the member 'audit'")
        if audit is not None and (
            not isinstance(audit, dict)
            or set(audit) != {"auditor", "package_sha256"}
            or not isinstance(audit["auditor"], str)
            or not isinstance(audit["package_sha256"], str | type(None))
        ):
            raise InvalidRecord("record member 'audit' must be null or {auditor, package_sha256}")
    if doc["role"] not in ("initiator", "responder"):
        raise InvalidRecord("record member 'role' must be 'initiator' or 'responder'")
    if doc["outcome"].get("status") not in ("completed", "refused", "failed"):
        raise InvalidRecord("record outcome status must be completed, refused or failed")


_SIGNATURE_MEMBERS = frozenset({"algorithm", "public_key", "fingerprint", "value"})
_SIGNATURE_B64 = 88  # 64 bytes in standard base64 with its "==" padding


def _expected_hex(value: bytes | str | None, name: str, n: int) -> str | None:
    """A ``session_id=`` / ``transcript_hash=`` argument as the record writes it (lowercase hex)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        if len(value) != n:
            raise InvalidParameter(f"{name} must be {n} bytes")
        return bytes(value).hex()
    if isinstance(value, str):
        if len(value) != 2 * n or any(c not in string.hexdigits for c in value):
            raise InvalidParameter(f"{name} must be {2 * n} hex digits")
        return value.lower()
    raise TypeError(f"{name} must be bytes or a hex str")


def _signature_bytes(sig: Mapping[str, Any]) -> bytes:
    """The raw signature, accepted only in the one encoding ``sign_record`` writes: standard base64 of the
    64 bytes with its padding, no whitespace, and the unused low bits of the last digit zero (otherwise
    several texts would carry one signature, and a record could be changed without breaking it)."""
    if set(sig) != _SIGNATURE_MEMBERS:
        raise InvalidRecord(
            "record signature must have exactly the members " + ", ".join(sorted(_SIGNATURE_MEMBERS))
        )
    value = sig["value"]
    if not isinstance(value, str) or len(value) != _SIGNATURE_B64:
        raise InvalidRecord("record signature value is not 64 bytes in standard base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRecord("record signature value is not base64") from None
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != value:
        raise InvalidRecord("record signature is not in its canonical encoding (standard base64, padded)")
    return raw


def verify_record(
    record: Mapping[str, Any] | str | bytes,
    public_key: PublicIdentity | bytes | str,
    *,
    session_id: bytes | str | None = None,
    transcript_hash: bytes | str | None = None,
) -> dict[str, Any]:
    """Check ``record`` (a dict or its JSON text) is signed by ``public_key``; return it as a dict.

    ``session_id`` (16 bytes or 32 hex digits) and ``transcript_hash`` (32 bytes or 64 hex digits), when
    given, bind the record to one session: a record of another session (or of none) is refused.

    Raises :class:`~blindmatch.session.errors.InvalidRecord` (a ``MalformedFile``) when the record is
    malformed, signed by another key, altered after signing, its signature not in its one canonical
    encoding, or it belongs to another session than the one given. ``TypeError`` / ``InvalidParameter``
    for a ``session_id`` or ``transcript_hash`` argument of the wrong type or length.
    """
    want_sid = _expected_hex(session_id, "session_id", 16)
    want_th = _expected_hex(transcript_hash, "transcript_hash", 32)
    if isinstance(public_key, str):
        public_key = PublicIdentity.from_text(public_key)
    elif isinstance(public_key, bytes | bytearray):
        public_key = PublicIdentity(bytes(public_key))
    if isinstance(record, str | bytes | bytearray):
        if len(record) > _MAX_RECORD_BYTES:
            raise InvalidRecord("record larger than 1 MiB")
        try:
            # a repeated member could show a reader one value while the signature covers another
            record = json.loads(record, object_pairs_hook=object_without_duplicates)
        except DuplicateKeyError:
            raise InvalidRecord("record has a duplicated member") from None
        except (ValueError, RecursionError) as exc:
            raise InvalidRecord(f"record is not JSON ({type(exc).__name__})") from None
    if not isinstance(record, Mapping):
        raise InvalidRecord("a record is a JSON object")
    doc = dict(record)
    version = doc.get("version")
    if doc.get("format") != RECORD_FORMAT or type(version) is not int or version not in RECORD_VERSIONS:
        raise InvalidRecord(
            f"not a blindmatch disclosure record of version {' or '.join(map(str, RECORD_VERSIONS))}"
        )
    sig = doc.pop("signature", None)
    if not isinstance(sig, Mapping) or sig.get("algorithm") != "ed25519":
        raise InvalidRecord("record has no ed25519 signature")
    if sig.get("public_key") != public_key.to_text():
        raise InvalidRecord("record is signed by another key than the one expected")
    _check_schema(doc)
    own = doc["self"]
    if own.get("public_key") != public_key.to_text() or sig.get("fingerprint") != public_key.fingerprint:
        raise InvalidRecord("record names another party as its writer than the key that signed it")
    if own.get("fingerprint") != public_key.fingerprint:
        raise InvalidRecord("record names another party as its writer than the key that signed it")
    raw_sig = _signature_bytes(sig)
    try:
        payload = _CONTEXT + canonical_json(doc)
    except InvalidParameter:
        raise InvalidRecord("record body is not in canonical form") from None
    if not public_key.verify(raw_sig, payload):
        raise InvalidRecord("record signature does not verify: the record was altered or forged")
    if want_sid is not None and doc["session_id"] != want_sid:
        raise InvalidRecord("record belongs to another session (its session id differs)")
    if want_th is not None and doc["transcript_hash"] != want_th:
        raise InvalidRecord("record's transcript hash differs from the session's (another run or session)")
    doc["signature"] = dict(sig)
    return doc
