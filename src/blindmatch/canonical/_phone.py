"""Rule for ``phone``: E.164 through ``phonenumbers`` (Google's libphonenumber metadata).

``phonenumbers.parse`` costs about 20 us, most of it spent finding the number in free text. A value that is
already in strict E.164 shape (``+`` and digits) skips that search: we split off the country calling code
from the same table ``parse`` uses and call ``is_valid_number`` on the result. The fast path answers only
when it provably builds the same ``PhoneNumber`` that ``parse`` would (no leading zero in the national
number, no national prefix that ``parse`` might strip); otherwise, or if the number is not valid that
way, the full parser decides. The tests check both paths agree.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from ..errors import InvalidIndicator, InvalidParameter

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["phone"]

MAX_INPUT = 250  # phonenumbers' own limit on the text it parses
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{2,18}")
_COUNTRY_CODES = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid or missing country code (national numbers need "
    "default_region)",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def _fail(reason: str) -> InvalidIndicator:
    return InvalidIndicator("phone", reason)


@cache
def _national_prefix_re(country_code: int) -> re.Pattern[str] | None:
    """The pattern ``parse`` tries to strip from the national number of ``country_code`` (or None)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if meta is None:
        return None
    pattern = meta.national_prefix_for_parsing
    return re.compile(pattern) if pattern else None


def _fast(text: str) -> str | None:
    """E.164 of a strict ``+digits`` value when the shortcut provably agrees with ``parse``, else None."""
    if _E164_SHAPE.fullmatch(text) is None:
        return None
    for n in (1, 2, 3):
        cc = int(text[1 : 1 + n])
        if cc in _COUNTRY_CODES:
            break
    else:
        return None
    national = text[1 + n :]
    if len(national) < 2 or len(national) > 17 or national[0] == "0":
        return None
    prefix = _national_prefix_re(cc)
    if prefix is not None and prefix.match(national) is not None:
        return None  # parse might strip a national prefix or carrier code here: let it decide
    if phonenumbers.is_valid_number(PhoneNumber(country_code=cc, national_number=int(national))):
        return text  # E.164 of this number is "+", the country code and the national number: the input
    return None


@lru_cache(maxsize=512)
def _region(default_region: str | None) -> str | None:
    if default_region is None:
        return None
    if not isinstance(default_region, str):
        raise InvalidParameter("default_region must be a str (ISO 3166 alpha-2) or None")
    region = default_region.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidParameter("default_region is not a region phonenumbers knows (ISO 3166 alpha-2)")
    return region


def phone(value: str, opts: Options) -> str:
    """``phone``: E.164 (``+`` country code and national number); invalid numbers are rejected."""
    region = _region(opts.default_region)
    if len(value) > MAX_INPUT:
        raise _fail("too long")
    text = value.strip()
    if not text:
        raise _fail("empty")
    fast = _fast(text)
    if fast is not None:
        return fast
    try:
        num = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise _fail(_REASONS.get(exc.error_type, "not a phone number")) from None
    if not phonenumbers.is_valid_number(num):
        raise _fail("not a valid number")
    out: str = phonenumbers.format_number(num, PhoneNumberFormat.E164)
    return out
