"""Rules for free text and opaque values: ``prompt``, ``user-agent`` and the opaque kinds."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

_WS = re.compile(r"\s+")
MAX_TEXT = 1 << 20  # 1 MiB of characters: anything larger is not an indicator


def _check_len(kind: str, value: str) -> None:
    if len(value) > MAX_TEXT:
        raise InvalidIndicator(kind, "too long")


def prompt(value: str, _opts: Options) -> str:
    _check_len("prompt", value)
    out = _WS.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()
    if not out:
        raise InvalidIndicator("prompt", "empty")
    return out


def user_agent(value: str, _opts: Options) -> str:
    _check_len("user-agent", value)
    out = _WS.sub(" ", unicodedata.normalize("NFKC", value)).strip()
    if not out:
        raise InvalidIndicator("user-agent", "empty")
    return out


def opaque(kind: str) -> Callable[[str, Options], str]:
    def rule(value: str, _opts: Options) -> str:
        _check_len(kind, value)
        out = unicodedata.normalize("NFC", value).strip()
        if not out:
            raise InvalidIndicator(kind, "empty")
        return out

    rule.__name__ = kind.replace("-", "_")
    return rule
