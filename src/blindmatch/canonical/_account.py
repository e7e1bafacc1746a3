"""Rules for ``account`` (``platform:id``) and ``asn`` (``AS15169``)."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["account", "asn"]

MAX_PLATFORM = 64
MAX_ACCOUNT_ID = 1024
MAX_INPUT = 4096
_PLATFORM = re.compile(r"[a-z0-9._-]{1,64}")
# "15169", "AS15169", "as 15169", "ASN 15169", and asdot "AS1.10" (RFC 5396) for 4-byte numbers.
_ASN = re.compile(r"(?:ASN?[ \t]*)?([0-9]{1,10})(?:\.([0-9]{1,5}))?", re.IGNORECASE)
_ASN_MAX = (1 << 32) - 1


def account(value: str, _opts: Options) -> str:
    """``account``: ``platform:id``; platform lowercased, from ``[a-z0-9._-]``; id trimmed, NFC, case kept."""
    if len(value) > MAX_INPUT:
        raise InvalidIndicator("account", "too long")
    platform, colon, ident = value.partition(":")
    if not colon:
        raise InvalidIndicator("account", "missing ':' between platform and id")
    if not platform.isascii():
        platform = unicodedata.normalize("NFKC", platform)
    platform = platform.strip().lower()
    if _PLATFORM.fullmatch(platform) is None:
        raise InvalidIndicator("account", f"platform must be 1 to {MAX_PLATFORM} characters of [a-z0-9._-]")
    if not ident.isascii():
        ident = unicodedata.normalize("NFC", ident)
    ident = ident.strip()
    if not ident:
        raise InvalidIndicator("account", "empty id")
    if len(ident) > MAX_ACCOUNT_ID:
        raise InvalidIndicator("account", f"id over {MAX_ACCOUNT_ID} characters")
    return f"{platform}:{ident}"


def asn(value: str, _opts: Options) -> str:
    """``asn``: ``AS`` and the number in asplain (RFC 5396), no leading zeros, 0 to 2^32-1."""
    if len(value) > 64:
        raise InvalidIndicator("asn", "too long")
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    m = _ASN.fullmatch(value.strip())
    if m is None:
        raise InvalidIndicator("asn", "not an AS number (expected e.g. 'AS15169', '15169' or 'AS1.10')")
    high, low = m.groups()
    if low is None:
        number = int(high)
    else:
        hi, lo = int(high), int(low)
        if hi > 0xFFFF or lo > 0xFFFF:
            raise InvalidIndicator("asn", "asdot half above 65535")
        number = (hi << 16) | lo
    if number > _ASN_MAX:
        raise InvalidIndicator("asn", "above 4294967295")
    return f"AS{number}"
