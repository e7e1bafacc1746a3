"""Helpers for the PSI tests: a seeded deterministic rng and message-splitting utilities."""

from __future__ import annotations

import hashlib
from collections.abc import Callable


def drbg(seed: bytes | str) -> Callable[[int], bytes]:
    """A deterministic rng(n) -> n bytes (SHAKE-256 in counter mode); tests only."""
    if isinstance(seed, str):
        seed = seed.encode()
    counter = 0

    def rng(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(seed + counter.to_bytes(8, "big")).digest(n) if n else b""

    return rng


def items(xs: list[int], tag: str = "it") -> list[bytes]:
    return [f"{tag}-{x:08d}".encode() for x in xs]
