"""Every random choice of a session party, derived from its one 32-byte seed (``blindmatch._derive``).

A party draws one seed (``new_seed(rng)``) when it is made; its ephemeral X25519 key, each padding dummy
and the PSI party's randomness are derived from it by label (docs/sessions.md lists the labels), so the
draws do not depend on the order in which the code asks for them, and a seeded party can be re-executed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .._derive import derive_bytes, derive_key
from .channel import new_ephemeral
from .padding import DUMMY_PREFIX

__all__ = ["LABEL_DUMMY", "LABEL_EPHEMERAL", "LABEL_PSI", "LABEL_PSI_RNG", "dummies", "ephemeral", "psi_rng"]

LABEL_EPHEMERAL = b"blindmatch/session/v1 ephemeral"
LABEL_DUMMY = b"blindmatch/session/v1 dummy"
LABEL_PSI = b"blindmatch/session/v1 psi seed"
LABEL_PSI_RNG = b"blindmatch/session/v1 psi rng"


def ephemeral(seed: bytes) -> tuple[X25519PrivateKey, bytes]:
    """The party's ephemeral X25519 key pair: the secret is ``derive_key(seed, LABEL_EPHEMERAL)``."""
    return new_ephemeral(derive_key(seed, LABEL_EPHEMERAL))


def dummies(seed: bytes, count: int) -> list[bytes]:
    """Dummy number ``i`` is ``DUMMY_PREFIX || derive_key(seed, LABEL_DUMMY, i)``."""
    return [DUMMY_PREFIX + derive_key(seed, LABEL_DUMMY, i) for i in range(count)]


def psi_seed(seed: bytes) -> bytes:
    """The PSI party's own seed: ``derive_key(seed, LABEL_PSI)``."""
    return derive_key(seed, LABEL_PSI)


def psi_rng(seed: bytes) -> Callable[[int], bytes]:
    """An ``rng`` for a PSI party that takes no seed: call ``k`` (from 0) returns
    ``derive_bytes(psi_seed(seed), LABEL_PSI_RNG, n, index=k)``."""
    own = psi_seed(seed)
    calls = itertools.count()

    def rng(n: int) -> bytes:
        return derive_bytes(own, LABEL_PSI_RNG, n, next(calls))

    return rng
