"""Rule for ``domain`` and the IDNA helper that ``email`` and ``url`` share.

A domain name becomes its IDNA A-label form (the ``idna`` package: IDNA 2008 with the UTS #46 mapping,
non-transitional, STD3 rules), lowercase, without a trailing dot. Plain lowercase LDH names skip the
``idna`` package (a tested fast path that gives the same answer); every result is cached, since the same
domains repeat across e-mail addresses and URLs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import idna

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["MAX_LABEL", "MAX_NAME", "domain", "domain_to_ascii"]

MAX_NAME = 253  # RFC 1035 s.3.1 / RFC 5321: 255 octets on the wire = 253 characters of text, no final dot
MAX_LABEL = 63
MAX_INPUT = 1024  # characters before mapping; the idna package refuses longer input as well

# One or more LDH labels (RFC 1123): letters, digits, inner hyphens, 1..63 characters each.
_LDH_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class DomainError(Exception):
    """Internal: why a name is not a valid domain (turned into InvalidIndicator by the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _idna_reason(exc: UnicodeError) -> str:
    # Never pass the idna message on: it quotes the input.
    if isinstance(exc, idna.IDNABidiError):
        return "violates the IDNA bidi rule"
    if isinstance(exc, idna.InvalidCodepointContext):
        return "joiner or other contextual character not allowed here"
    if isinstance(exc, idna.InvalidCodepoint):
        return "character not allowed in a domain name"
    return "invalid IDNA label"


def _label_to_ascii(label: str) -> str:
    try:
        if label.isascii():
            if label.startswith("xn--"):
                # RFC 5891 s.5.4: an A-label must decode, be a valid U-label, and re-encode to itself.
                a = idna.alabel(idna.ulabel(label)).decode("ascii")
                if a != label:
                    raise DomainError("non-canonical A-label")
                return a
            if len(label) > MAX_LABEL:
                raise DomainError(f"label over {MAX_LABEL} characters")
            idna.alabel(label)  # validates hyphen placement
            return label
        if len(label.encode("punycode")) + 4 > MAX_LABEL:
            raise DomainError(f"label over {MAX_LABEL} characters")
        return idna.alabel(label).decode("ascii")
    except UnicodeError as exc:
        raise DomainError(_idna_reason(exc)) from None


def _slow_to_ascii(name: str) -> str:
    if len(name) > MAX_INPUT:
        raise DomainError("too long")
    try:
        mapped = idna.uts46_remap(name, std3_rules=True)
    except UnicodeError as exc:
        raise DomainError(_idna_reason(exc)) from None
    labels = mapped.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot (the root) is dropped
    out = []
    for label in labels:
        if not label:
            raise DomainError("empty label")
        a = _label_to_ascii(label)
        if len(a) > MAX_LABEL:
            raise DomainError(f"label over {MAX_LABEL} characters")
        out.append(a)
    result = ".".join(out)
    if len(result) > MAX_NAME:
        raise DomainError(f"name over {MAX_NAME} characters")
    return result


@lru_cache(maxsize=1 << 16)
def domain_to_ascii(name: str) -> str:
    """A-label form of a (trimmed, non-empty) domain name; raises :class:`DomainError`."""
    if name.isascii():
        low = name.lower()
        if low.endswith("."):
            low = low[:-1]
        if len(low) <= MAX_NAME and "--" not in low and _LDH_NAME.fullmatch(low) is not None:
            return low
    return _slow_to_ascii(name)


def domain(value: str, _opts: Options) -> str:
    """``domain``: IDNA A-label form, lowercase, no trailing dot."""
    if len(value) > MAX_INPUT:
        raise InvalidIndicator("domain", "too long")
    name = value.strip()
    if not name:
        raise InvalidIndicator("domain", "empty")
    try:
        return domain_to_ascii(name)
    except DomainError as exc:
        raise InvalidIndicator("domain", exc.reason) from None
