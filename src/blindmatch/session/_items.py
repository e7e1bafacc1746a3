"""The own items of a session party: distinct byte strings, and the map back to ``(kind, canonical)``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import InvalidParameter
from ..psi import indicator_item
from .padding import DUMMY_PREFIX

__all__ = ["distinct_items", "indicator_items"]


def distinct_items(items: Iterable[bytes]) -> list[bytes]:
    """Raw items without repeats (in first-seen order); none may start with the dummy prefix."""
    seen: set[bytes] = set()
    out: list[bytes] = []
    for it in items:
        if not isinstance(it, bytes):
            raise InvalidParameter("items must be bytes")
        if it.startswith(DUMMY_PREFIX):
            raise InvalidParameter("an item starts with the reserved dummy prefix")
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out


def indicator_items(
    items_by_kind: Mapping[str, Iterable[str]], kinds: Iterable[str]
) -> tuple[list[bytes], dict[bytes, tuple[str, str]]]:
    """Distinct items of the given kinds, and the map back to ``(kind, canonical)``."""
    back: dict[bytes, tuple[str, str]] = {}
    out: list[bytes] = []
    for kind in kinds:
        for value in items_by_kind.get(kind, ()):
            it = indicator_item(kind, value)
            if it not in back:
                back[it] = (kind, value)
                out.append(it)
    return out, back
