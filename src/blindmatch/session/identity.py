"""Ed25519 identity keys and their human-comparable fingerprints.

A lab's identity is an Ed25519 key pair. The private key is saved as PEM (PKCS #8, optionally encrypted
with a passphrase) in a file of mode 0600; the public key travels as text ``blindmatch-ed25519:<64 hex>``.

The fingerprint of a public key is ``SHA-256("blindmatch/v1/identity-fingerprint" || key)`` cut to 160
bits and written in RFC 4648 base32 as eight groups of four characters (``abcd-efgh-...``): short enough
to read aloud over a phone call, long enough that nobody can make a key with a chosen fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from collections.abc import Callable
from pathlib import Path

import nacl.bindings as _nb
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InvalidParameter, LocalError, MalformedFile

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "Identity",
    "PassphraseError",
    "PublicIdentity",
    "fingerprints_match",
    "normalize_fingerprint",
]

PUBLIC_KEY_PREFIX = "blindmatch-ed25519:"
_FP_LABEL = b"blindmatch/v1/identity-fingerprint"
_FP_BYTES = 20
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class PassphraseError(MalformedFile, LocalError):
    """An encrypted identity file was read without its passphrase (``missing``) or with a wrong one.

    A :class:`~blindmatch.errors.MalformedFile` (what a wrong password raised before), and a
    :class:`~blindmatch.errors.LocalError`: the fix is local. The message never holds the passphrase."""

    def __init__(self, *, missing: bool) -> None:
        super().__init__(
            "the identity file is encrypted: a passphrase is needed"
            if missing
            else "wrong passphrase for the encrypted identity file (or the file is damaged)"
        )
        self.missing = missing


def normalize_fingerprint(text: str) -> str:
    """A fingerprint as typed or read aloud (any case, spaces or dashes) in its canonical form."""
    if not isinstance(text, str):
        raise TypeError("fingerprint must be a str")
    compact = "".join(ch for ch in text.lower() if ch not in " -:\t")
    if len(compact) != 32 or any(ch not in "abcdefghijklmnopqrstuvwxyz234567" for ch in compact):
        raise InvalidParameter("a fingerprint is 32 base32 characters (a-z, 2-7), optionally grouped")
    return "-".join(compact[i : i + 4] for i in range(0, 32, 4))


def fingerprints_match(a: str, b: str) -> bool:
    """Whether two fingerprints (as typed, in any grouping or case) are the same."""
    return hmac.compare_digest(normalize_fingerprint(a), normalize_fingerprint(b))


class PublicIdentity:
    """An Ed25519 public key (32 bytes) with its fingerprint."""

    __slots__ = ("_key", "_raw", "_strong")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray):
            raise TypeError("public key must be bytes")
        if len(raw) != 32:
            raise InvalidParameter("an Ed25519 public key is 32 bytes")
        self._raw = bytes(raw)
        self._key = Ed25519PublicKey.from_public_bytes(self._raw)
        # a key of small order, off the prime-order subgroup or non-canonical: anybody can make signatures
        # that verify under some of them (the identity key with R = identity, S = 0), so none ever verifies
        self._strong = bool(_nb.crypto_core_ed25519_is_valid_point(self._raw))

    @property
    def raw(self) -> bytes:
        """The 32-byte public key."""
        return self._raw

    @property
    def is_valid(self) -> bool:
        """Whether the key is a canonical point of the prime-order subgroup (every key a real Ed25519
        private key gives is); :meth:`verify` is always false for any other, and trust stores refuse it."""
        return self._strong

    @property
    def fingerprint(self) -> str:
        """Eight groups of four base32 characters, e.g. ``mzxw-6ytb-...``."""
        digest = hashlib.sha256(_FP_LABEL + self._raw).digest()[:_FP_BYTES]
        text = base64.b32encode(digest).decode("ascii").lower()
        return "-".join(text[i : i + 4] for i in range(0, 32, 4))

    def to_text(self) -> str:
        """``blindmatch-ed25519:<64 hex digits>``, the form used in peers files and on the command line."""
        return PUBLIC_KEY_PREFIX + self._raw.hex()

    @classmethod
    def from_text(cls, text: str) -> PublicIdentity:
        """Parse :meth:`to_text` output (surrounding whitespace ignored)."""
        if not isinstance(text, str):
            raise TypeError("public key text must be a str")
        text = text.strip()
        if not text.startswith(PUBLIC_KEY_PREFIX):
            raise InvalidParameter(f"a public key text starts with {PUBLIC_KEY_PREFIX!r}")
        body = text[len(PUBLIC_KEY_PREFIX) :]
        if len(body) != 64 or any(ch not in "0123456789abcdef" for ch in body):
            raise InvalidParameter("a public key text has 64 lowercase hex digits after the prefix")
        return cls(bytes.fromhex(body))

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is a valid Ed25519 signature of ``data`` by this key."""
        if len(signature) != 64 or not self._strong:
            return False
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicIdentity) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"PublicIdentity(fingerprint={self.fingerprint!r})"


class Identity:
    """An Ed25519 private identity key. The secret never appears in reprs or errors."""

    __slots__ = ("_key", "_public")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("private_key must be an Ed25519PrivateKey")
        self._key = private_key
        self._public = PublicIdentity(
            private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    @classmethod
    def generate(cls, rng: Callable[[int], bytes] = os.urandom) -> Identity:
        """A fresh identity from 32 bytes of ``rng`` (injectable so tests can pin keys)."""
        return cls.from_seed(rng(32))

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """The identity whose RFC 8032 private key (seed) is ``seed`` (32 bytes)."""
        if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            raise InvalidParameter("an Ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def public(self) -> PublicIdentity:
        return self._public

    @property
    def fingerprint(self) -> str:
        return self._public.fingerprint

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature (64 bytes) of ``data``."""
        return self._key.sign(data)

    def seed(self) -> bytes:
        """The 32-byte private seed (hazmat: for key conversion and tests; never log it)."""
        return self._key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS #8 PEM of the private key; encrypted with ``passphrase`` (``BestAvailableEncryption``)
        when one is given."""
        enc: serialization.KeySerializationEncryption
        if passphrase is None:
            enc = serialization.NoEncryption()
        else:
            if not isinstance(passphrase, bytes) or not passphrase:
                raise InvalidParameter("the passphrase must be non-empty bytes")
            enc = serialization.BestAvailableEncryption(passphrase)
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    @staticmethod
    def pem_is_encrypted(data: bytes) -> bool:
        """Whether ``data`` is an encrypted PKCS #8 PEM private key (one that needs a passphrase)."""
        return data.lstrip().startswith(_ENCRYPTED_PEM)

    @classmethod
    def file_is_encrypted(cls, path: str | os.PathLike[str]) -> bool:
        """Whether the identity file at ``path`` is encrypted (``OSError`` if it cannot be read)."""
        with open(path, "rb") as fh:
            return cls.pem_is_encrypted(fh.read(256))

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> Identity:
        """Parse :meth:`to_pem` output. An encrypted key read without its passphrase, or with a wrong one,
        raises :class:`PassphraseError`; a passphrase given for a key that is not encrypted is not used;
        any other unreadable key raises ``MalformedFile``."""
        encrypted = cls.pem_is_encrypted(data)
        if encrypted and passphrase is None:
            raise PassphraseError(missing=True)
        try:
            key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            if encrypted and isinstance(exc, ValueError):
                raise PassphraseError(missing=False) from None
            raise MalformedFile(f"not a readable PEM private key ({type(exc).__name__})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise MalformedFile("the PEM private key is not an Ed25519 key")
        return cls(key)

    def save(
        self, path: str | os.PathLike[str], passphrase: bytes | None = None, *, overwrite: bool = False
    ) -> None:
        """Write the key as PEM to ``path``, mode 0600 (replaces a file only with ``overwrite``); encrypted
        with ``passphrase`` when one is given."""
        data = self.to_pem(passphrase)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise InvalidParameter("the identity file exists already (pass overwrite=True)") from None
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            Path(path).unlink(missing_ok=True)
            raise

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], passphrase: bytes | None = None, *, check_permissions: bool = True
    ) -> Identity:
        """Read a key saved by :meth:`save` (encrypted or not); refuses a file others can read unless told
        not to check. An encrypted file without its passphrase, or with a wrong one, raises
        :class:`PassphraseError`."""
        p = Path(path)
        if check_permissions and stat.S_IMODE(p.stat().st_mode) & 0o077:
            raise InvalidParameter("the identity file is readable by others: chmod 600 it")
        return cls.from_pem(p.read_bytes(), passphrase)

    def __repr__(self) -> str:
        return f"Identity(fingerprint={self.fingerprint!r})"
