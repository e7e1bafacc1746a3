"""Audit packages: what a party escrows to the auditor when an audited session ends (docs/audit.md).

The plaintext (:class:`AuditContents`) is the opening of the party's commitment (seed and padded list), its
real items, its traffic keys and the whole transcript. It is sealed to the auditor (libsodium's sealed box
to the X25519 key converted from the auditor's Ed25519 key) and wrapped in a JSON file signed by its
author. Only the auditor's private key opens it; the author's signed record names the file's SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nacl.bindings import (
    crypto_sign_ed25519_pk_to_curve25519,
    crypto_sign_ed25519_sk_to_curve25519,
)
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from .._strictjson import DuplicateKeyError, object_without_duplicates
from ..errors import InvalidParameter
from ._canonjson import canonical_json
from .errors import InvalidAuditPackage
from .identity import Identity, PublicIdentity

__all__ = [
    "CONTENTS_FORMAT",
    "MAX_PACKAGE_BYTES",
    "PACKAGE_FORMAT",
    "AuditContents",
    "OpenedPackage",
    "PackageHeader",
    "open_package",
    "package_sha256",
    "read_package_header",
    "seal_package",
]

PACKAGE_FORMAT = "blindmatch-audit-package"
CONTENTS_FORMAT = "blindmatch-audit-contents"
_VERSION = 1
_CONTEXT = b"blindmatch-audit-package/v1\x00"
#: The largest package ``open_package`` reads (a 2^20-item session's package is about 0.3 GB).
MAX_PACKAGE_BYTES = 1 << 31
_PACKAGE_MEMBERS = frozenset(
    {"format", "version", "role", "session_id", "author", "auditor", "sealed", "signature"}
)
_CONTENT_MEMBERS = frozenset(
    {"format", "version", "role", "session_id", "seed", "items", "padded", "traffic_keys", "transcript",
     "commitment"}
)  # fmt: skip


@dataclass(frozen=True, repr=False)
class AuditContents:
    """The sealed part of a package (secrets: the seed, the items and the traffic keys)."""

    role: str
    session_id: bytes
    seed: bytes
    items: tuple[bytes, ...]  # the real items, distinct, in the party's order
    padded: tuple[bytes, ...]  # the committed padded list (real items and dummies), sorted
    traffic_keys: tuple[bytes, bytes] | None  # (i2r, r2i); None when the session ended before the accept
    transcript: tuple[bytes, ...]  # every wire message of the session, in order
    commitment: bytes | None  # the commitment this party sent (None if it sent none)

    def __repr__(self) -> str:
        return f"AuditContents(role={self.role!r}, session_id={self.session_id.hex()}, <secret>)"

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces); every value is a str, an int, null or a flat list or
        object of str, so the standard encoder gives it directly."""
        keys = self.traffic_keys
        return _plain_json({
            "format": CONTENTS_FORMAT, "version": _VERSION, "role": self.role,
            "session_id": self.session_id.hex(), "seed": self.seed.hex(),
            "items": [x.hex() for x in self.items], "padded": [x.hex() for x in self.padded],
            "traffic_keys": {"i2r": keys[0].hex(), "r2i": keys[1].hex()} if keys is not None else None,
            "transcript": [m.hex() for m in self.transcript],
            "commitment": self.commitment.hex() if self.commitment is not None else None,
        })  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> AuditContents:
        if data.count(b"{") > 2 or data.count(b"[") > 3:  # the object, traffic_keys; three flat lists
            raise InvalidAuditPackage("the package contents are not flat audit contents")
        doc = _strict_json(data, "audit package contents")
        if (
            set(doc) != _CONTENT_MEMBERS
            or doc["format"] != CONTENTS_FORMAT
            or type(doc["version"]) is not int
            or doc["version"] != _VERSION
        ):
            raise InvalidAuditPackage("the package contents are not version 1 audit contents")
        try:
            keys = doc["traffic_keys"]
            if keys is not None and (not isinstance(keys, dict) or set(keys) != {"i2r", "r2i"}):
                raise ValueError("traffic_keys")
            return cls(
                role=_role(doc["role"]),
                session_id=_hex(doc["session_id"], 16),
                seed=_hex(doc["seed"], 32),
                items=tuple(_hex(x) for x in _list(doc["items"])),
                padded=tuple(_hex(x) for x in _list(doc["padded"])),
                traffic_keys=(_hex(keys["i2r"], 32), _hex(keys["r2i"], 32)) if keys is not None else None,
                transcript=tuple(_hex(x) for x in _list(doc["transcript"])),
                commitment=_hex(doc["commitment"], 32) if doc["commitment"] is not None else None,
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise InvalidAuditPackage(f"the package contents are malformed ({type(exc).__name__})") from None


def _plain_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _strict_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data, object_pairs_hook=object_without_duplicates)
    except DuplicateKeyError:
        raise InvalidAuditPackage(f"the {what} repeat a member") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidAuditPackage(f"the {what} are not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidAuditPackage(f"the {what} are not a JSON object")
    return doc


def _role(value: Any) -> str:
    if value not in ("initiator", "responder"):
        raise ValueError("role")
    return str(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _hex(value: Any, n: int | None = None) -> bytes:
    if not isinstance(value, str) or value != value.lower() or (n is not None and len(value) != 2 * n):
        raise ValueError("expected lowercase hex")
    return bytes.fromhex(value)


def _x25519_public(auditor: PublicIdentity) -> PublicKey:
    return PublicKey(crypto_sign_ed25519_pk_to_curve25519(auditor.raw))


def seal_package(author: Identity, auditor: PublicIdentity | bytes, contents: AuditContents) -> bytes:
    """The package file: ``contents`` sealed to ``auditor``, signed by ``author`` (canonical JSON bytes)."""
    if isinstance(auditor, bytes | bytearray):
        auditor = PublicIdentity(bytes(auditor))
    if contents.role not in ("initiator", "responder"):
        raise InvalidParameter("contents.role is initiator or responder")
    sealed = SealedBox(_x25519_public(auditor)).encrypt(contents.to_bytes())
    doc: dict[str, Any] = {
        "format": PACKAGE_FORMAT, "version": _VERSION, "role": contents.role,
        "session_id": contents.session_id.hex(), "author": author.public.to_text(),
        "auditor": auditor.to_text(),
        "sealed": base64.b64encode(sealed).decode("ascii"),
    }  # fmt: skip
    body = canonical_json(doc)
    signature = base64.b64encode(author.sign(_CONTEXT + body)).decode("ascii")
    # canonical JSON sorts "signature" just before "version", the last member: splice it in rather than
    # encode the (large) sealed part a second time
    tail = b',"version":%d}' % _VERSION
    if not body.endswith(tail):  # pragma: no cover - the member set is fixed
        raise InvalidParameter("unexpected package layout")
    return body[: -len(tail)] + b',"signature":"' + signature.encode("ascii") + b'"' + tail


def package_sha256(data: bytes) -> bytes:
    """The SHA-256 of a package file, as the author's record names it."""
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, repr=False)
class OpenedPackage:
    author: PublicIdentity
    role: str
    session_id: bytes
    contents: AuditContents
    sha256: bytes


@dataclass(frozen=True)
class PackageHeader:
    """The signed wrapper of a package: who wrote it, for which session and role, sealed to whom."""

    author: PublicIdentity
    auditor: PublicIdentity
    role: str
    session_id: bytes
    sealed: bytes
    sha256: bytes


def read_package_header(data: bytes) -> PackageHeader:
    """Check a package file's form and its author's signature (nothing is unsealed).

    Raises :class:`InvalidAuditPackage` when it is malformed, not canonical, or its signature does not
    verify under the author it names (altered or forged)."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_PACKAGE_BYTES:
        raise InvalidAuditPackage("an audit package is a JSON file of at most 2 GiB")
    if bytes(data).count(b"{") != 1 or b"[" in data:  # one flat object: refused before parsing
        raise InvalidAuditPackage("an audit package is one flat JSON object")
    doc = _strict_json(bytes(data), "audit package")
    version = doc.get("version")
    if (
        set(doc) != _PACKAGE_MEMBERS
        or doc["format"] != PACKAGE_FORMAT
        or type(version) is not int
        or version != 1
    ):
        raise InvalidAuditPackage("not a version 1 blindmatch audit package")
    try:
        author = PublicIdentity.from_text(doc["author"])
        named_auditor = PublicIdentity.from_text(doc["auditor"])
        signature = base64.b64decode(doc["signature"], validate=True)
        role, session_id = _role(doc["role"]), _hex(doc["session_id"], 16)
        if not isinstance(doc["sealed"], str):
            raise TypeError("sealed")
        body = {k: v for k, v in doc.items() if k != "signature"}
        canonical, signed = canonical_json(doc), canonical_json(body)
    except (TypeError, ValueError, binascii.Error, InvalidParameter) as exc:
        raise InvalidAuditPackage(f"the audit package is malformed ({type(exc).__name__})") from None
    if canonical != bytes(data) or base64.b64encode(signature).decode("ascii") != doc["signature"]:
        raise InvalidAuditPackage("the audit package is not in its canonical form")
    if not author.verify(signature, _CONTEXT + signed):  # before the sealed part is even decoded
        raise InvalidAuditPackage("the audit package's signature does not verify (altered or forged)")
    try:
        sealed = base64.b64decode(doc["sealed"], validate=True)
    except (ValueError, binascii.Error):
        raise InvalidAuditPackage("the audit package's sealed part is not base64") from None
    return PackageHeader(author, named_auditor, role, session_id, sealed, package_sha256(bytes(data)))


def open_package(data: bytes, auditor: Identity, *, authors: Sequence[PublicIdentity] = ()) -> OpenedPackage:
    """Check and open a package file with the auditor's identity.

    Raises :class:`InvalidAuditPackage` when the file is malformed, its signature does not verify under the
    author it names (or, given ``authors``, the author is none of them), it is addressed to another auditor,
    the seal does not open with this auditor's key, or the sealed contents disagree with the wrapper.
    """
    head = read_package_header(data)
    if authors and head.author not in authors:
        raise InvalidAuditPackage("the audit package is signed by neither party of the session")
    if head.auditor != auditor.public:
        raise InvalidAuditPackage(
            f"the audit package is sealed to another auditor ({head.auditor.fingerprint})"
        )
    secret = PrivateKey(crypto_sign_ed25519_sk_to_curve25519(auditor.seed() + auditor.public.raw))
    try:
        plain = SealedBox(secret).decrypt(head.sealed)
    except CryptoError:
        raise InvalidAuditPackage("the audit package does not open with this auditor's key") from None
    contents = AuditContents.from_bytes(plain)
    if contents.role != head.role or contents.session_id != head.session_id:
        raise InvalidAuditPackage("the sealed contents name another session or role than the package")
    return OpenedPackage(head.author, head.role, head.session_id, contents, head.sha256)
