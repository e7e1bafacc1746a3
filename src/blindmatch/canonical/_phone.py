"""Rule for ``phone``: E.164 through ``phonenumbers`` (Google's libphonenumber metadata).

``phonenumbers.parse`` costs about 20 us and ``is_valid_number`` another 10 to 30 us (pure Python walking
the metadata, compiling patterns through a bounded cache). A value already in strict E.164 shape (``+`` and
digits, or that with spaces, dots, hyphens and parentheses removed), and a national number of digits and
that punctuation when a default region is given, take a fast path instead:

1. split off the country calling code with the same table ``parse`` uses;
2. give up (fall back to ``parse``) unless the result is provably the ``PhoneNumber`` that ``parse``
   would build: no leading zero in the national number, no match of the national-prefix pattern that
   ``parse`` might strip and, for national numbers, no international call prefix and no leading digits
   equal to the region's calling code (``parse`` tries to read both);
3. decide validity with :class:`_Validator`, a transcription of ``is_valid_number`` (region choice for
   shared calling codes, then "general pattern matches and some number type matches") over the same
   metadata, with the patterns of each number length pre-joined into one compiled expression.

Anything the fast path does not accept goes to ``parse`` + ``is_valid_number``, which remain the
reference: the tests compare both on every example number of every region and on random digit strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from ..errors import InvalidIndicator, InvalidParameter

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["phone"]

MAX_INPUT = 250  # phonenumbers' own limit on the text it parses
# "+" then digits with spaces, dots, hyphens and parentheses: parse() strips exactly these (no extension
# or second-number marker can be formed from them), so the digits alone parse to the same number.
_PUNCTUATED_E164 = re.compile(r"\+[0-9 ().\-]*")
_PUNCTUATION = re.compile(r"[ ().\-]+")
_PUNCTUATED_NATIONAL = re.compile(r"[0-9 ().\-]*")
_COUNTRY_CODES = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{2,18}")
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


_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class _Validator:
    """``_number_type_helper(nsn, metadata) != UNKNOWN`` for one region's metadata, precompiled.

    That is: the general description matches (length, then pattern) and so does some number type's
    description (its lengths, if it lists any, then its pattern). For each length we compile one
    expression, ``(?=(?:general)\\Z)(?:type1)|(?:type2)...``, whose full match is exactly that test.
    """

    __slots__ = ("_by_length", "_descs", "_general", "_general_lengths")

    def __init__(self, meta: phonenumbers.PhoneMetadata) -> None:
        gen = meta.general_desc
        self._general = gen.national_number_pattern if gen is not None else None
        self._general_lengths = frozenset(gen.possible_length) if gen else frozenset()
        names = list(_TYPE_DESCS)
        if not meta.same_mobile_and_fixed_line_pattern:
            names.append("mobile")  # otherwise is_valid_number never consults the mobile pattern alone
        self._descs: list[tuple[frozenset[int], str]] = []
        for name in names:
            desc = getattr(meta, name)
            if desc is not None and desc.national_number_pattern:
                self._descs.append((frozenset(desc.possible_length), desc.national_number_pattern))
        self._by_length: dict[int, re.Pattern[str] | None] = {}

    def _build(self, length: int) -> re.Pattern[str] | None:
        pattern = None
        if self._general and (not self._general_lengths or length in self._general_lengths):
            alts = [f"(?:{pat})" for lengths, pat in self._descs if not lengths or length in lengths]
            if alts:
                pattern = re.compile(f"(?=(?:{self._general})\\Z)(?:{'|'.join(alts)})")
        self._by_length[length] = pattern
        return pattern

    def valid(self, nsn: str) -> bool:
        n = len(nsn)
        pattern = self._by_length[n] if n in self._by_length else self._build(n)
        return pattern is not None and pattern.fullmatch(nsn) is not None


@cache
def _validators(country_code: int) -> tuple[tuple[re.Pattern[str] | None, _Validator], ...]:
    """Per region sharing ``country_code``, in ``is_valid_number``'s order: (leading digits, validator)."""
    regions = _COUNTRY_CODES[country_code]
    out = []
    for region in regions:
        if len(regions) == 1:
            meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        else:
            meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
        if meta is None:
            continue
        leading = re.compile(meta.leading_digits) if meta.leading_digits else None
        out.append((leading, _Validator(meta)))
    return tuple(out)


def _is_valid(country_code: int, nsn: str) -> bool:
    """Same answer as ``is_valid_number(PhoneNumber(country_code, int(nsn)))`` for ``nsn`` without a
    leading zero (region_code_for_number, then is_valid_number_for_region)."""
    return _is_valid_among(_validators(country_code), nsn)


def _is_valid_among(validators: tuple[tuple[re.Pattern[str] | None, _Validator], ...], nsn: str) -> bool:
    if len(validators) == 1:
        return validators[0][1].valid(nsn)
    for leading, validator in validators:
        if leading is not None:
            if leading.match(nsn) is not None:
                return validator.valid(nsn)  # this region is chosen, valid there or not
        elif validator.valid(nsn):
            return True
    return False


class _Code:
    """What the fast path needs about one calling code: where its national number starts in an E.164
    string and, built on first use, the national-prefix pattern ``parse`` would try to strip and the
    validity check."""

    __slots__ = ("code", "prefix", "skip", "valid")

    def __init__(self, code: int) -> None:
        self.code = code
        self.skip = 1 + len(str(code))
        self.prefix: re.Pattern[str] | None = None
        self.valid: Callable[[str], bool] | None = None

    def load(self) -> Callable[[str], bool]:
        self.prefix = _national_prefix_re(self.code)
        validators = _validators(self.code)
        valid = validators[0][1].valid if len(validators) == 1 else partial(_is_valid_among, validators)
        self.valid = valid
        return valid


_CODES = {str(cc): _Code(cc) for cc in _COUNTRY_CODES if cc > 0}


def _fast(text: str) -> str | None:
    """E.164 of a strict ``+digits`` value when the shortcut provably agrees with ``parse``, else None."""
    if _E164_SHAPE.fullmatch(text) is None:
        return None
    # calling codes are prefix-free, so at most one of the 1-, 2- and 3-digit prefixes is one
    code = _CODES.get(text[1:2]) or _CODES.get(text[1:3]) or _CODES.get(text[1:4])
    if code is None:
        return None
    national = text[code.skip :]
    if len(national) < 2 or len(national) > 17 or national[0] == "0":
        return None
    valid = code.valid or code.load()
    if code.prefix is not None and code.prefix.match(national) is not None:
        return None  # parse might strip a national prefix or carrier code here: let it decide
    if valid(national):
        return text  # E.164 of this number is "+", the country code and the national number: the input
    return None


@cache
def _national_rules(region: str) -> tuple[int, re.Pattern[str] | None, re.Pattern[str] | None] | None:
    """For a default region: its calling code, international (IDD) prefix and national prefix patterns."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if meta is None or meta.country_code is None:
        return None
    idd = re.compile(meta.international_prefix) if meta.international_prefix else None
    npp = meta.national_prefix_for_parsing
    return meta.country_code, idd, (re.compile(npp) if npp else None)


def _fast_national(text: str, region: str) -> str | None:
    """E.164 of a nationally written number (digits and `` ().-``) when ``parse(text, region)`` provably
    reads it as the default region's calling code followed by exactly these digits, else None."""
    if _PUNCTUATED_NATIONAL.fullmatch(text) is None:
        return None
    digits = _PUNCTUATION.sub("", text)
    if len(digits) < 2 or len(digits) > 17 or digits[0] == "0":
        return None
    rules = _national_rules(region)
    if rules is None:
        return None
    cc, idd, npp = rules
    if digits.startswith(str(cc)):
        return None  # parse may read the leading digits as the calling code
    if idd is not None and idd.match(digits) is not None:
        return None  # parse may read an international call prefix
    if npp is not None and npp.match(digits) is not None:
        return None  # parse may strip a national prefix or carrier code
    if _is_valid(cc, digits):
        return f"+{cc}{digits}"
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
    region = None if opts.default_region is None else _region(opts.default_region)
    if len(value) > MAX_INPUT:
        raise _fail("too long")
    text = value.strip()
    if not text:
        raise _fail("empty")
    fast = _fast(text)
    if fast is None:
        if text[0] == "+":
            if _PUNCTUATED_E164.fullmatch(text) is not None:
                fast = _fast(_PUNCTUATION.sub("", text))
        elif region is not None:
            fast = _fast_national(text, region)
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
