"""Keyed tokens: canonical indicators turned into 32-byte keyed hashes.

Each ``(kind, context, canon version, algorithm)`` gets its own subkey from HKDF-SHA256 over the shared
key, so the same value under another kind, context or canon version gives an unrelated token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, overload

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .canonical import CANON_VERSION, canonicalize, canonicalize_many
from .errors import InvalidParameter

__all__ = ["MIN_KEY_BYTES", "TOKEN_BYTES", "TokenBatch", "Tokenizer"]

TOKEN_BYTES = 32
MIN_KEY_BYTES = 16
Algorithm = Literal["hmac-sha256", "blake2b"]
_ALGORITHMS: tuple[str, ...] = ("hmac-sha256", "blake2b")
_SALT = b"blindmatch/v1/token-hkdf-salt"
_KEY_ID_LABEL = b"blindmatch/v1/key-id"


def _lp(data: bytes) -> bytes:
    """Length-prefixed field (2-byte big-endian length), so concatenations cannot collide."""
    return len(data).to_bytes(2, "big") + data


def key_id_of(key: bytes) -> str:
    """Public fingerprint of a token key: 16 hex digits of an HMAC of a fixed label under the key."""
    return hmac.digest(key, _KEY_ID_LABEL, "sha256")[:8].hex()


@dataclass(frozen=True)
class TokenBatch(Sequence[bytes]):
    """Tokens of a batch; ``indices[i]`` is the input position of ``tokens[i]``."""

    kind: str
    tokens: list[bytes]
    indices: list[int]
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    def __len__(self) -> int:
        return len(self.tokens)

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        return self.tokens[i]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.tokens)


class Tokenizer:
    """Makes keyed tokens of indicators.

    ``key`` is the shared secret (at least 16 bytes); ``context`` separates uses of one key (e.g. a
    sharing group and a quarter: ``b"ai-labs-2026q4"``). The key never appears in reprs or errors.
    """

    __slots__ = ("_algorithm", "_context", "_key", "_key_id", "_subkeys")

    def __init__(self, key: bytes, *, context: bytes = b"", algorithm: Algorithm = "hmac-sha256") -> None:
        if not isinstance(key, bytes | bytearray):
            raise TypeError("key must be bytes")
        if len(key) < MIN_KEY_BYTES:
            raise InvalidParameter(f"key must be at least {MIN_KEY_BYTES} bytes")
        if not isinstance(context, bytes | bytearray):
            raise TypeError("context must be bytes")
        if len(context) > 1024:
            raise InvalidParameter("context must be at most 1024 bytes")
        if algorithm not in _ALGORITHMS:
            raise InvalidParameter(f"algorithm must be one of {', '.join(_ALGORITHMS)}")
        self._key = bytes(key)
        self._context = bytes(context)
        self._algorithm: Algorithm = algorithm
        self._key_id = key_id_of(self._key)
        self._subkeys: dict[str, bytes] = {}

    @property
    def key_id(self) -> str:
        """Public fingerprint of the key (16 hex digits); the key cannot be recovered from it."""
        return self._key_id

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def context(self) -> bytes:
        return self._context

    @property
    def canon_version(self) -> int:
        return CANON_VERSION

    def __repr__(self) -> str:
        return (
            f"Tokenizer(key_id={self._key_id!r}, algorithm={self._algorithm!r}, "
            f"context=<{len(self._context)} bytes>)"
        )

    def subkey(self, kind: str) -> bytes:
        """The HKDF subkey for ``kind`` (hazmat: exposed for tests and for interoperable implementations)."""
        sk = self._subkeys.get(kind)
        if sk is None:
            info = (
                b"blindmatch/v1/token"
                + _lp(self._algorithm.encode())
                + _lp(self._context)
                + _lp(kind.encode())
                + CANON_VERSION.to_bytes(2, "big")
            )
            sk = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(self._key)
            self._subkeys[kind] = sk
        return sk

    def token_canonical(self, kind: str, canonical: str) -> bytes:
        """Token of a value that is already in canonical form (no canonicalization applied)."""
        return self._mac(self.subkey(kind), canonical.encode("utf-8"))

    def token(self, kind: str, value: str, *, default_region: str | None = None) -> bytes:
        """Canonicalize ``value`` as ``kind`` and return its 32-byte token."""
        canonical = canonicalize(kind, value, default_region=default_region)
        return self._mac(self.subkey(kind), canonical.encode("utf-8"))

    def tokens(
        self,
        kind: str,
        values: Iterable[str],
        *,
        errors: Literal["raise", "skip"] = "raise",
        default_region: str | None = None,
    ) -> TokenBatch:
        """Tokens of many values of one kind (see :func:`~blindmatch.canonicalize_many` for ``errors``)."""
        batch = canonicalize_many(kind, values, errors=errors, default_region=default_region)
        sk = self.subkey(kind)
        if self._algorithm == "hmac-sha256":
            digest = hmac.digest
            toks = [digest(sk, c.encode("utf-8"), "sha256") for c in batch.values]
        else:
            b2 = hashlib.blake2b
            toks = [b2(c.encode("utf-8"), key=sk, digest_size=TOKEN_BYTES).digest() for c in batch.values]
        return TokenBatch(kind, toks, batch.indices, batch.skipped_by_reason)

    def _mac(self, sk: bytes, data: bytes) -> bytes:
        if self._algorithm == "hmac-sha256":
            return hmac.digest(sk, data, "sha256")
        return hashlib.blake2b(data, key=sk, digest_size=TOKEN_BYTES).digest()
