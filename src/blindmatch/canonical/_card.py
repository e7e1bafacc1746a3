"""Rule for ``card`` (canon version 2): a payment card as labs hold it, never the full number.

Canonical form: ``BBBBBB******LLLL|YYYY-MM``: the first six digits (the BIN; longer leading groups, such
as PCI DSS's first eight, are cut to six), always six asterisks whatever the card's length, the last four
digits, ``|``, and the expiry year and month.

``canonicalize("card", ...)`` only takes the masked form: a full card number (13 to 19 digits passing the
Luhn check) is refused. A caller that holds full numbers derives the masked form explicitly with
:func:`card_from_pan`. Neither ever puts a digit of the input into an error: reasons are fixed strings,
and every error is raised ``from None`` so that no library exception that might quote the number rides
along as ``__context__``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

from stdnum import luhn

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["card", "card_from_pan"]

KIND = "card"
MAX_INPUT = 128
# leading digits (BIN, 6 to 8 kept by issuers' masks), a run of one mask character, the last four
_MASKED = re.compile(r"([0-9]{6,8})(?:[*xX#\u2022]{1,9}|\.{2,9})([0-9]{4})")
_SEPARATORS = re.compile(r"[ \-]+")
_EXPIRY_MY = re.compile(r"([0-9]{1,2}) *[/.\-] *([0-9]{2}|[0-9]{4})")  # MM/YY, MM/YYYY, MM-YY, 09.28
_EXPIRY_YM = re.compile(r"([0-9]{4})-([0-9]{1,2})")  # YYYY-MM (the canonical form)
_EXPIRY_MMYY = re.compile(r"([0-9]{2})([0-9]{2})")  # MMYY
_FULL_NUMBER = "full card number refused (derive the masked form with card_from_pan)"


def _fail(reason: str) -> InvalidIndicator:
    return InvalidIndicator(KIND, reason)


def _ascii(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text


def _is_full_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits.isdigit() and digits.isascii() and luhn.is_valid(digits)


@lru_cache(maxsize=4096)  # expiries repeat: some 100 months in a handful of spellings
def expiry(text: str) -> str:
    """``YYYY-MM`` from ``MM/YY``, ``MM/YYYY``, ``MM-YY``, ``MMYY`` or ``YYYY-MM``; years 2000 to 2099."""
    text = _ascii(text).strip()
    if len(text) > 16:
        raise _fail("expiry: expected MM/YY, MM/YYYY, MMYY or YYYY-MM")
    if m := _EXPIRY_YM.fullmatch(text):
        year, month = int(m.group(1)), int(m.group(2))
    elif (m := _EXPIRY_MY.fullmatch(text)) or (m := _EXPIRY_MMYY.fullmatch(text)):
        month, yy = int(m.group(1)), m.group(2)
        year = 2000 + int(yy) if len(yy) == 2 else int(yy)
    else:
        raise _fail("expiry: expected MM/YY, MM/YYYY, MMYY or YYYY-MM")
    if not 1 <= month <= 12:
        raise _fail("expiry: month must be 01 to 12")
    if not 2000 <= year <= 2099:
        raise _fail("expiry: year must be 2000 to 2099")
    return f"{year:04d}-{month:02d}"


def card(value: str, _opts: Options) -> str:
    """``card``: ``BBBBBB******LLLL|YYYY-MM`` from a masked card and its expiry; full numbers refused."""
    if len(value) > MAX_INPUT:
        raise _fail("too long")
    number, bar, exp = _ascii(value).partition("|")
    compact = _SEPARATORS.sub("", number.strip())
    if _is_full_number(compact):
        raise _fail(_FULL_NUMBER)
    if not bar:
        raise _fail("missing '|' between the masked card and the expiry")
    m = _MASKED.fullmatch(compact)
    if m is None:
        raise _fail("not a masked card (expected BIN, mask, last four, e.g. 411111******1111)")
    return f"{m.group(1)[:6]}******{m.group(2)}|{expiry(exp)}"


def card_from_pan(pan: str, expiry_text: str) -> str:
    """The ``card`` canonical form of a full card number ``pan`` (13 to 19 digits, spaces and hyphens
    allowed, Luhn-valid) and its expiry: ``BBBBBB******LLLL|YYYY-MM``.

    The explicit way to turn full numbers into the masked form that ``canonicalize("card", ...)`` takes.
    Errors never contain the number. The result is canonical: ``canonicalize("card", result, version=2)``
    returns it unchanged.
    """
    if not isinstance(pan, str) or not isinstance(expiry_text, str):
        raise TypeError("pan and expiry must be str")
    if len(pan) > MAX_INPUT:
        raise _fail("too long")
    digits = pan if pan.isascii() and pan.isdigit() else _SEPARATORS.sub("", _ascii(pan).strip())
    if not (digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19):
        raise _fail("card number must be 13 to 19 digits")
    if not luhn.is_valid(digits):
        raise _fail("card number fails the Luhn check")
    return f"{digits[:6]}******{digits[-4:]}|{expiry(expiry_text)}"
