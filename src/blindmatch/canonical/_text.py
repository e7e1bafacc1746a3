"""Rules for free text and opaque values: ``prompt``, ``user-agent`` and the opaque kinds.

"Whitespace" is what ``str.isspace`` says (Unicode White_Space plus the ASCII separators U+001C..U+001F);
``" ".join(s.split())`` collapses every run of it into one space and trims both ends in one C call.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

MAX_TEXT = 1 << 20  # characters of output: anything larger is not an indicator
MAX_INPUT = 4 * MAX_TEXT  # characters of input (normalization can grow or shrink text)


def _check_input(kind: str, value: str) -> None:
    if len(value) > MAX_INPUT:
        raise InvalidIndicator(kind, "too long")


def _check_output(kind: str, out: str) -> str:
    if not out:
        raise InvalidIndicator(kind, "empty")
    if len(out) > MAX_TEXT:
        raise InvalidIndicator(kind, "too long")
    return out


def nfkc_casefold(kind: str, text: str) -> str:
    """NFKC, casefold, NFKC again, repeated until stable (casefold output is not always NFKC, e.g.
    U+01F0 casefolds to "j" + U+030C, which NFKC composes back). Two rounds settle every single code
    point (``BLINDMATCH_EXHAUSTIVE=1 pytest`` checks it); the loop bound turns a pathological input into
    an error rather than an unstable output."""
    text = unicodedata.normalize("NFKC", text)
    for _ in range(4):
        nxt = unicodedata.normalize("NFKC", text.casefold())
        if nxt == text:
            return text
        text = nxt
    raise InvalidIndicator(kind, "unstable under normalization")


def prompt(value: str, _opts: Options) -> str:
    """``prompt``: NFKC, casefold (to a fixed point), whitespace runs -> one space, trimmed."""
    _check_input("prompt", value)
    text = value.lower() if value.isascii() else nfkc_casefold("prompt", value)
    return _check_output("prompt", " ".join(text.split()))


def user_agent(value: str, _opts: Options) -> str:
    """``user-agent``: NFKC, whitespace runs -> one space, trimmed; case kept."""
    _check_input("user-agent", value)
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    return _check_output("user-agent", " ".join(text.split()))


def opaque(kind: str) -> Callable[[str, Options], str]:
    """Opaque kinds (``api-key``, fingerprints, ``text``): NFC, trimmed, non-empty; nothing else."""

    def rule(value: str, _opts: Options) -> str:
        _check_input(kind, value)
        text = value if value.isascii() else unicodedata.normalize("NFC", value)
        return _check_output(kind, text.strip())

    rule.__name__ = kind.replace("-", "_")
    rule.__doc__ = f"``{kind}``: NFC, trimmed, non-empty."
    return rule
