"""Rule for ``iban`` (canon version 2): ISO 13616, validated by ``python-stdnum`` (``stdnum.iban``).

Canonical form: the electronic format, uppercase without spaces (``GB82WEST12345698765432``). Checked:
the shape (country letters, two check digits, up to 30 letters and digits), the check digits 02 to 98
(00, 01 and 99 also pass mod 97 for some numbers but ISO 13616 never issues them, so each account has one
spelling), the ISO 7064 mod 97-10 check and the country's BBAN length and format from ``stdnum``'s IBAN
registry table. National check digits inside the BBAN are not checked (``check_country=False``): they
are not part of ISO 13616, and only some countries have a module for them in ``stdnum``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from stdnum import iban as stdnum_iban
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["iban"]

KIND = "iban"
MAX_INPUT = 128
_SEPARATORS = re.compile(r"[ \-.]+")
_PAPER_PREFIX = re.compile(r"iban[ :]*", re.IGNORECASE)
_SHAPE = re.compile(r"[A-Z]{2}(?!00|01|99)[0-9]{2}[A-Z0-9]{1,30}")


def _fail(reason: str) -> InvalidIndicator:
    return InvalidIndicator(KIND, reason)


def iban(value: str, _opts: Options) -> str:
    """``iban``: uppercase, no spaces; mod 97 and the country's length and format checked."""
    if len(value) > MAX_INPUT:
        raise _fail("too long")
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    text = value.strip()
    if m := _PAPER_PREFIX.match(text):  # the paper format "IBAN DE89 3704 ..."
        text = text[m.end() :]
    compact = _SEPARATORS.sub("", text).upper()
    if not compact.isascii() or _SHAPE.fullmatch(compact) is None:
        raise _fail("not an IBAN (two letters, check digits 02 to 98, up to 30 letters and digits)")
    try:
        return str(stdnum_iban.validate(compact, check_country=False))
    except InvalidChecksum:
        raise _fail("check digits do not verify (mod 97)") from None
    except InvalidComponent:
        raise _fail("unknown IBAN country code") from None
    except ValidationError:
        raise _fail("wrong length or format for the country") from None
