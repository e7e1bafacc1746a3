"""Deterministic test data for the Bloom tests."""

from __future__ import annotations

import hashlib


def tokens(n: int, label: str = "t") -> list[bytes]:
    """``n`` distinct pseudorandom 32-byte tokens, the same on every run."""
    return [hashlib.sha256(f"{label}:{i}".encode()).digest() for i in range(n)]
