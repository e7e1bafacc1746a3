"""The table of canonicalization rules, one function per kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import _text


class Options(NamedTuple):
    """Per-call options a rule may use."""

    default_region: str | None = None


Rule = Callable[[str, Options], str]

RULES: dict[str, Rule] = {
    "prompt": _text.prompt,
    "user-agent": _text.user_agent,
    "api-key": _text.opaque("api-key"),
    "payment-fingerprint": _text.opaque("payment-fingerprint"),
    "device-fingerprint": _text.opaque("device-fingerprint"),
    "text": _text.opaque("text"),
}
