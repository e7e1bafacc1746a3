"""Reading the forum's signed files (the policy, group files): one canonical JSON document, nothing else.

The file must be ASCII, at most ``limit`` bytes, free of repeated object members and NaN/Infinity, and
byte for byte the canonical JSON of what it holds (``session._canonjson``), so one signed body has exactly
one file. Every refusal raises the caller's error class (a ``MalformedFile``) naming ``what``.
"""

from __future__ import annotations

import json
from typing import Any

from .._strictjson import DuplicateKeyError, object_without_duplicates
from ..errors import InvalidParameter, MalformedFile
from ..session._canonjson import canonical_json

__all__ = ["exact_members", "parse_canonical"]


def _show(value: object) -> str:
    """A short, printable rendering of a value from a file (never more than 40 characters of it)."""
    text = ascii(value)
    return text if len(text) <= 42 else text[:40] + "..."


def _no_constant(_name: str) -> Any:
    raise ValueError("NaN or Infinity")


def parse_canonical(data: bytes, *, limit: int, error: type[MalformedFile], what: str, writer: str) -> Any:
    """The document ``data`` holds (``writer`` names the function that writes such files)."""
    if len(data) > limit:
        raise error(f"{what} holds at most {limit} bytes")
    try:
        doc = json.loads(
            bytes(data).decode("ascii"),
            object_pairs_hook=object_without_duplicates,
            parse_constant=_no_constant,
        )
    except DuplicateKeyError:
        raise error(f"{what} repeats an object member") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if str(exc) == "NaN or Infinity":
            raise error(f"{what} holds NaN or Infinity") from None
        raise error(f"{what} is not ASCII JSON ({type(exc).__name__})") from None
    try:
        canonical = canonical_json(doc)
    except (InvalidParameter, RecursionError):
        raise error(f"{what} holds a value canonical JSON does not") from None
    if canonical != data:
        raise error(f"{what} is not in canonical JSON form (as {writer} writes)")
    return doc


def exact_members(what: str, obj: object, keys: frozenset[str], error: type[MalformedFile]) -> dict[str, Any]:
    """``obj`` as a JSON object with exactly the members ``keys``."""
    if not isinstance(obj, dict):
        raise error(f"{what} must be a JSON object")
    if obj.keys() != keys:
        missing = ", ".join(sorted(keys - obj.keys())) or "none"
        extra = ", ".join(sorted(_show(k) for k in obj.keys() - keys)[:5]) or "none"
        raise error(
            f"{what} must hold exactly {', '.join(sorted(keys))} (missing: {missing}; unknown: {extra})"
        )
    return obj
