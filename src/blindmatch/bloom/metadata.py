"""The metadata block of a native Bloom filter file: who made it, under which key and rules.

Serialized as a JSON object (UTF-8, sorted keys, no whitespace). Key names follow CIRCL's Private Search
Set where one fits (``keyid``, ``description``, ``generated-timestamp``, ``algorithm``, ``name``); the
rest are ours (``canon-version``, ``kinds``, ``context-hex``). Unknown keys with scalar values are kept
in :attr:`FilterMetadata.extra`, so a newer writer's fields survive a round trip.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._strictjson import object_without_duplicates
from ..errors import InvalidParameter, MalformedFile

__all__ = ["MAX_METADATA_BYTES", "FilterMetadata"]

#: Largest metadata block accepted (bytes of JSON).
MAX_METADATA_BYTES = 65536
_MAX_KINDS = 256
_MAX_TEXT = 4096
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_KNOWN = {
    "keyid",
    "canon-version",
    "kinds",
    "algorithm",
    "context-hex",
    "generated-timestamp",
    "description",
    "name",
}
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class FilterMetadata:
    """What a filter's bits mean: the token key's public id, canon version, kinds, and labels.

    Never holds a key: ``key_id`` is the public fingerprint :attr:`blindmatch.Tokenizer.key_id`.
    """

    key_id: str | None = None
    canon_version: int | None = None
    kinds: tuple[str, ...] = ()
    algorithm: str | None = None
    context: bytes | None = None
    created: int | None = None
    description: str = ""
    name: str = ""
    extra: Mapping[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            _check(self)
        except MalformedFile as exc:
            raise InvalidParameter(str(exc)) from None

    def to_json(self) -> bytes:
        """The canonical JSON bytes of this block."""
        obj: dict[str, Any] = dict(self.extra)
        if self.key_id is not None:
            obj["keyid"] = self.key_id
        if self.canon_version is not None:
            obj["canon-version"] = self.canon_version
        if self.kinds:
            obj["kinds"] = list(self.kinds)
        if self.algorithm is not None:
            obj["algorithm"] = self.algorithm
        if self.context is not None:
            obj["context-hex"] = self.context.hex()
        if self.created is not None:
            obj["generated-timestamp"] = self.created
        if self.description:
            obj["description"] = self.description
        if self.name:
            obj["name"] = self.name
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes) -> FilterMetadata:
        """Parse a metadata block received from elsewhere; anything odd is :class:`MalformedFile`."""
        if len(data) > MAX_METADATA_BYTES:
            raise MalformedFile("metadata block too large")
        try:
            obj = json.loads(
                data.decode("utf-8"),
                object_pairs_hook=object_without_duplicates,
                parse_constant=_no_constant,
                parse_float=_finite_float,
            )
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedFile("metadata block is not valid UTF-8 JSON") from None
        if not isinstance(obj, dict):
            raise MalformedFile("metadata block is not a JSON object")
        extra: dict[str, Scalar] = {}
        for key, value in obj.items():
            if key not in _KNOWN:
                if not isinstance(value, str | int | float | bool) and value is not None:
                    raise MalformedFile(f"metadata field {key[:40]!r} is not a scalar")
                extra[key] = value
        ctx = obj.get("context-hex")
        context: bytes | None = None
        if ctx is not None:
            if not isinstance(ctx, str):
                raise MalformedFile("metadata field 'context-hex' is not a string")
            try:
                context = bytes.fromhex(ctx)
            except ValueError:
                raise MalformedFile("metadata field 'context-hex' is not hex") from None
        kinds = obj.get("kinds", [])
        if not isinstance(kinds, list):
            raise MalformedFile("metadata field 'kinds' is not a list")
        md = cls.__new__(cls)
        for name, value in (
            ("key_id", obj.get("keyid")),
            ("canon_version", obj.get("canon-version")),
            ("kinds", tuple(kinds)),
            ("algorithm", obj.get("algorithm")),
            ("context", context),
            ("created", obj.get("generated-timestamp")),
            ("description", obj.get("description", "")),
            ("name", obj.get("name", "")),
            ("extra", extra),
        ):
            object.__setattr__(md, name, value)
        _check(md)
        return md


def _no_constant(name: str) -> Any:
    raise MalformedFile("metadata block holds a non-finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedFile("metadata block holds a non-finite number")
    return value


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check(md: FilterMetadata) -> None:
    """Type and range checks shared by construction (caller error) and parsing (file error)."""
    if md.key_id is not None and (not isinstance(md.key_id, str) or not _KEY_ID.fullmatch(md.key_id)):
        raise MalformedFile("metadata 'keyid' must be 16 lowercase hex digits")
    if md.canon_version is not None and (not _is_int(md.canon_version) or not 0 < md.canon_version < 2**16):
        raise MalformedFile("metadata 'canon-version' must be an integer in 1..65535")
    if not isinstance(md.kinds, tuple) or len(md.kinds) > _MAX_KINDS:
        raise MalformedFile(f"metadata 'kinds' must be a list of at most {_MAX_KINDS} names")
    for kind in md.kinds:
        if not isinstance(kind, str) or not 0 < len(kind) <= 64:
            raise MalformedFile("metadata 'kinds' must hold names of 1 to 64 characters")
    if len(set(md.kinds)) != len(md.kinds):
        raise MalformedFile("metadata 'kinds' repeats a kind")
    if md.algorithm is not None and (not isinstance(md.algorithm, str) or len(md.algorithm) > 64):
        raise MalformedFile("metadata 'algorithm' must be a short string")
    if md.context is not None and (not isinstance(md.context, bytes) or len(md.context) > 1024):
        raise MalformedFile("metadata 'context-hex' must be at most 1024 bytes")
    if md.created is not None and (not _is_int(md.created) or not 0 <= md.created < 2**63):
        raise MalformedFile("metadata 'generated-timestamp' must be a non-negative integer")
    for label, text in (("description", md.description), ("name", md.name)):
        if not isinstance(text, str) or len(text) > _MAX_TEXT:
            raise MalformedFile(f"metadata {label!r} must be a string of at most {_MAX_TEXT} characters")
    if not isinstance(md.extra, Mapping):
        raise MalformedFile("metadata extra fields must be a mapping")
    for key, value in md.extra.items():
        if key in _KNOWN or not isinstance(key, str):
            raise MalformedFile("metadata extra fields must not shadow known keys")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise MalformedFile("metadata extra fields must be scalars")
