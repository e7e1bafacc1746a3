"""A ``json.loads`` object hook shared by every parser of received JSON that must not accept repeated keys.

``json.loads`` keeps the last of two equal keys silently: a signed or checked document could then show a
reader one value while the code used another.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DuplicateKeyError", "object_without_duplicates"]


class DuplicateKeyError(ValueError):
    """A JSON object repeats a key (the key itself is not kept: it may come from hostile input)."""


def object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads``: the object as a dict, or :class:`DuplicateKeyError`."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError("a JSON object repeats a key")
        out[key] = value
    return out
