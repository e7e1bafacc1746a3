"""Rule for ``org`` (canon version 2): an organization's name, legal-form suffixes removed.

1. ``™ ® © ℠`` are dropped; NFKC + casefold to a fixed point (as for ``prompt``).
2. Punctuation: full stops, apostrophes and dashes are deleted (``A.B.C.`` -> ``abc``, ``McDonald's`` ->
   ``mcdonalds``, ``Coca-Cola`` -> ``cocacola``); ``&`` becomes a word of its own; every other
   punctuation character (ASCII punctuation, and Unicode category P) becomes a space. Steps 1 and 2 are
   repeated until stable (deleting a dot can put a combining mark next to a letter, which NFKC composes).
3. Words are split on whitespace; legal-form suffixes are removed from the end, longest first, again
   and again (``Acme Co Ltd`` -> ``acme``), as long as one word is left. The suffixes are the terms of
   ``cleanco`` (``cleanco.clean.get_unique_terms()``, some 320 legal forms of many countries), each put
   through steps 1 and 2 and also without its accents, plus a lone ``&``.
4. The words joined by one space.

``cleanco.basename`` itself is not used: it strips each term at most once in a fixed order, so it is not
idempotent (``Acme Inc Ltd`` -> ``Acme Inc`` -> ``Acme``), and returns the input's own case and
punctuation. Its term list is the part we take.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cleanco.clean import get_unique_terms

from ..errors import InvalidIndicator
from ._text import nfkc_casefold

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["SUFFIXES", "org"]

KIND = "org"
MAX_INPUT = 1024
MAX_OUTPUT = 512

_MARKS = dict.fromkeys(map(ord, "\u2122\u00ae\u00a9\u2120"))  # ™ ® © ℠
_DELETED = ".'`\u2019\u2018\u00b4\u02bc"  # full stop, apostrophes (dashes: every character of category Pd)
_ASCII_TABLE: dict[int, str | None] = {ord(c): " " for c in string.punctuation}
_ASCII_TABLE.update({ord(c): None for c in _DELETED + "-"})
_ASCII_TABLE[ord("&")] = " & "


def _punctuation(text: str) -> str:
    text = text.translate(_ASCII_TABLE)
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        if cat == "Pd" or ch in _DELETED:
            continue
        out.append(" " if cat[0] == "P" else ch)
    return "".join(out)


def _normalize(text: str) -> str:
    """Steps 1 and 2, to a fixed point."""
    if text.isascii():
        return _punctuation(text.lower())
    text = text.translate(_MARKS)
    for _ in range(4):
        nxt = _punctuation(nfkc_casefold(KIND, text))
        if nxt == text:
            return text
        text = nxt
    raise InvalidIndicator(KIND, "unstable under normalization")


def _visible(text: str) -> str:
    """Tabs and line breaks as spaces; other control characters refused; invisible format characters
    (zero-width space, soft hyphen, BOM: category Cf) removed, so they cannot split one name in two."""
    if text.isascii() and text.isprintable():
        return text
    text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidIndicator(KIND, "control character")
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _suffix_index(terms: Iterable[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Suffix word tuples by their last word, longest first (then sorted, for a fixed order)."""
    found: set[tuple[str, ...]] = {("&",)}
    for term in terms:
        for variant in (term, _strip_accents(term)):
            words = tuple(_normalize(variant).split())
            if words:
                found.add(words)
    index: dict[str, list[tuple[str, ...]]] = {}
    for words in sorted(found, key=lambda w: (-len(w), w)):
        index.setdefault(words[-1], []).append(words)
    return {last: tuple(group) for last, group in index.items()}


#: cleanco terms that are also ordinary last words of names (or two-letter country and state codes):
#: never removed, so "Acme PC" and "Acme EU" do not merge with "Acme".
ORDINARY_WORDS: frozenset[str] = frozenset({"pc", "eu", "ca", "ok", "ad", "ent", "at"})
_INDEX = _suffix_index(t for t in get_unique_terms() if _normalize(t).strip() not in ORDINARY_WORDS)
#: Every legal-form suffix ``org`` removes, as word tuples after normalization.
SUFFIXES: frozenset[tuple[str, ...]] = frozenset(w for group in _INDEX.values() for w in group)


def _strip_suffixes(words: list[str]) -> list[str]:
    while (group := _INDEX.get(words[-1])) is not None:
        for term in group:
            n = len(term)
            if n < len(words) and tuple(words[-n:]) == term:
                del words[-n:]
                break
        else:
            break
    return words


def org(value: str, _opts: Options) -> str:
    """``org``: NFKC + casefold, punctuation normalized, legal-form suffixes (``cleanco``'s) removed."""
    if len(value) > MAX_INPUT:
        raise InvalidIndicator(KIND, "too long")
    value = _visible(value)
    words = _normalize(value).split()
    if not words:
        raise InvalidIndicator(KIND, "empty")
    out = " ".join(_strip_suffixes(words))
    if len(out) > MAX_OUTPUT:
        raise InvalidIndicator(KIND, "too long")
    return out
