"""Rule for ``email``: NFKC, trim, lowercase, IDNA domain, Gmail folding."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator
from ._domain import DomainError, domain_to_ascii

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["email"]

MAX_ADDRESS = 254  # RFC 5321 s.4.5.3.1.3: a 256-octet path minus the angle brackets
MAX_LOCAL = 64  # RFC 5321 s.4.5.3.1.1
MAX_INPUT = 1024

# Characters that only appear in quoted local parts or display forms ("Name <a@b>"), which we do not
# accept: RFC 5322 specials other than "@" and ".".
_ASCII_BAD = re.compile(r'[\x00-\x20\x7f()<>\[\]:;,\\"]')
_GMAIL = "gmail.com"
_GMAIL_ALIASES = frozenset({"gmail.com", "googlemail.com"})


def _fail(reason: str) -> InvalidIndicator:
    return InvalidIndicator("email", reason)


def _nfkc_lower(text: str) -> str:
    # lower() of NFKC text is not always NFKC (and NFKC can produce capitals, e.g. U+1D2C -> "A"), so
    # repeat until stable; two rounds settle every code point (BLINDMATCH_EXHAUSTIVE=1 pytest checks it).
    for _ in range(4):
        nxt = unicodedata.normalize("NFKC", text).lower()
        if nxt == text:
            return text
        text = nxt
    raise _fail("unstable under normalization")


def _check_local_unicode(local: str) -> None:
    for ch in local:
        cat = unicodedata.category(ch)
        if cat[0] in "CZ":  # controls, format characters (zero-width...), unassigned, separators
            raise _fail("control, format or space character in the local part")


def email(value: str, _opts: Options) -> str:
    """``email``: see docs/canonicalization.md."""
    if len(value) > MAX_INPUT:
        raise _fail("too long")
    text = value.strip().lower() if value.isascii() else _nfkc_lower(value).strip()
    at = text.find("@")
    if at < 0:
        raise _fail("missing '@'")
    if text.find("@", at + 1) >= 0:
        raise _fail("more than one '@'")
    local, host = text[:at], text[at + 1 :]
    if not local:
        raise _fail("empty local part")
    if not host:
        raise _fail("empty domain")
    if _ASCII_BAD.search(local) is not None:
        raise _fail("whitespace or special character in the local part")
    if not local.isascii():
        _check_local_unicode(local)
    try:
        dom = domain_to_ascii(host)
    except DomainError as exc:
        raise _fail(f"domain: {exc.reason}") from None
    if dom in _GMAIL_ALIASES:
        dom = _GMAIL
        plus = local.find("+")
        if plus >= 0:
            local = local[:plus]
        local = local.replace(".", "")
        if not local:
            raise _fail("empty local part")
    if len(local.encode("utf-8")) > MAX_LOCAL:
        raise _fail(f"local part over {MAX_LOCAL} octets")
    out = f"{local}@{dom}"
    if len(out.encode("utf-8")) > MAX_ADDRESS:
        raise _fail(f"address over {MAX_ADDRESS} octets")
    return out
