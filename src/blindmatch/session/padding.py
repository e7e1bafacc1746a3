"""Padding rules: the only set sizes a session reveals.

* ``none``: the true number of distinct items;
* ``pow2``: the next power of two (at least 1), but never above the side's cap;
* ``cap``: exactly the side's cap.

The session fills the gap with dummy items: 32 random bytes after a tag no indicator item can start
with, so a dummy never equals a real item and (being random) never equals the peer's dummies either.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import CapacityError, InvalidParameter

__all__ = ["DUMMY_PREFIX", "PADDING_RULES", "conforms", "make_dummies", "padded_size"]

PADDING_RULES: tuple[str, ...] = ("none", "pow2", "cap")
#: Dummy items start with a NUL and this tag; indicator items (``psi.indicator_item``) start otherwise.
DUMMY_PREFIX = b"\x00blindmatch/v1/session-dummy\x00"


def _check_rule(rule: str) -> None:
    if rule not in PADDING_RULES:
        raise InvalidParameter(f"padding must be one of {', '.join(PADDING_RULES)}")


def padded_size(rule: str, n: int, cap: int) -> int:
    """Size a set of ``n`` distinct items is padded to under ``rule`` with ``cap`` (``n <= cap``)."""
    _check_rule(rule)
    if n > cap:
        raise CapacityError(f"{n} items exceed the agreed cap of {cap}")
    if rule == "none":
        return n
    if rule == "cap":
        return cap
    return min(cap, 1 if n <= 1 else 1 << (n - 1).bit_length())


def conforms(rule: str, size: int, cap: int) -> bool:
    """Whether a peer's declared ``size`` is one the rule can produce (for some true size <= cap)."""
    _check_rule(rule)
    if size < 0 or size > cap:
        return False
    if rule == "none":
        return True
    if rule == "cap":
        return size == cap
    return size == cap or (size >= 1 and size & (size - 1) == 0)


def make_dummies(count: int, rng: Callable[[int], bytes] = os.urandom) -> list[bytes]:
    """``count`` distinct dummy items (raises if ``rng`` keeps repeating itself)."""
    out: list[bytes] = []
    seen: set[bytes] = set()
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 2 * count + 16:
            raise InvalidParameter("rng returns repeated values: cannot make distinct dummies")
        d = DUMMY_PREFIX + rng(32)
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
