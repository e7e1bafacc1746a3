"""Every random choice of a session party, derived from its one 32-byte seed (``blindmatch._derive``).

A party draws one seed (``new_seed(rng)``) when it is made; its ephemeral X25519 key, each padding dummy
and the PSI party's own seed are derived from it by label (docs/sessions.md lists the labels), so the
draws do not depend on the order in which the code asks for them, and a seeded party can be re-executed.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .._derive import derive_bytes, derive_key
from .channel import new_ephemeral
from .padding import DUMMY_PREFIX

__all__ = [
    "LABEL_DUMMY",
    "LABEL_EPHEMERAL",
    "LABEL_PSI",
    "LABEL_SESSION_ID",
    "dummies",
    "ephemeral",
    "psi_seed",
    "session_id_source",
]

LABEL_EPHEMERAL = b"blindmatch/session/v1 ephemeral"
LABEL_DUMMY = b"blindmatch/session/v1 dummy"
LABEL_PSI = b"blindmatch/session/v1 psi seed"
LABEL_SESSION_ID = b"blindmatch/session/v1 session id"


def ephemeral(seed: bytes) -> tuple[X25519PrivateKey, bytes]:
    """The party's ephemeral X25519 key pair: the secret is ``derive_key(seed, LABEL_EPHEMERAL)``."""
    return new_ephemeral(derive_key(seed, LABEL_EPHEMERAL))


def dummies(seed: bytes, count: int) -> list[bytes]:
    """Dummy number ``i`` is ``DUMMY_PREFIX || derive_key(seed, LABEL_DUMMY, i)``."""
    return [DUMMY_PREFIX + derive_key(seed, LABEL_DUMMY, i) for i in range(count)]


def psi_seed(seed: bytes) -> bytes:
    """The PSI party's own seed (``blindmatch.psi`` derives its choices from it): ``derive_key(seed,
    LABEL_PSI)``."""
    return derive_key(seed, LABEL_PSI)


def session_id_source(seed: bytes) -> Callable[[int], bytes]:
    """The ``rng`` an initiator gives ``Manifest.propose``: the manifest's session id is
    ``derive_bytes(seed, LABEL_SESSION_ID, 16)``."""

    def draw(n: int) -> bytes:
        return derive_bytes(seed, LABEL_SESSION_ID, n)

    return draw
