"""Canonical JSON: the one byte encoding that signatures over JSON objects cover.

Keys sorted, no insignificant whitespace, ASCII only (``\\uXXXX`` escapes), and only the types that
encode one way: objects with string keys, lists, strings, integers, booleans and null (no floats).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidParameter

__all__ = ["canonical_json"]


def _check(value: Any, depth: int = 0) -> None:
    if depth > 32:
        raise InvalidParameter("canonical JSON nests at most 32 levels")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise InvalidParameter("canonical JSON integers stay below 2^53")
        return
    if isinstance(value, list | tuple):
        for v in value:
            _check(v, depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidParameter("canonical JSON object keys are strings")
            _check(v, depth + 1)
        return
    raise InvalidParameter(f"canonical JSON cannot hold a {type(value).__name__}")


def canonical_json(value: Any) -> bytes:
    """The canonical encoding of ``value`` (raises ``InvalidParameter`` for floats and other types)."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
