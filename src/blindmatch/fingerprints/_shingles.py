"""Shingles of a canonical prompt and their 32-bit MurmurHash3 values.

Two shingle kinds:

* ``word``: n-grams of the word tokens (``\\w+`` runs) of the canonical prompt, joined by one space.
  Punctuation is not part of any word, so punctuation edits do not change word shingles.
* ``char``: n-grams of the characters of the canonical prompt (spaces and punctuation included).

A prompt too short for one full n-gram yields a single shingle: all its words (or all its characters).
A prompt with no word at all (only punctuation) falls back to its character shingles, so every canonical
prompt has at least one shingle. Duplicates are kept: a minimum does not care about them.
"""

from __future__ import annotations

import re
from typing import Literal

import mmh3
import numpy as np
import numpy.typing as npt

from ..errors import InvalidParameter

__all__ = ["MAX_NGRAM", "ShingleKind", "hash_shingles", "shingle_hashes", "shingles"]

ShingleKind = Literal["word", "char"]
SHINGLE_KINDS: tuple[str, ...] = ("word", "char")
MAX_NGRAM = 32
_WORD = re.compile(r"\w+")


def check_shingling(kind: str, ngram: int) -> None:
    """Raise :class:`InvalidParameter` unless ``kind``/``ngram`` name a supported shingling."""
    if kind not in SHINGLE_KINDS:
        raise InvalidParameter(f"shingle kind must be one of {', '.join(SHINGLE_KINDS)}")
    if isinstance(ngram, bool) or not isinstance(ngram, int) or not 1 <= ngram <= MAX_NGRAM:
        raise InvalidParameter(f"ngram must be an int in 1..{MAX_NGRAM}")


def _char_shingles(text: str, n: int) -> list[str]:
    if len(text) <= n:
        return [text]
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def shingles(canonical: str, kind: ShingleKind, ngram: int) -> list[str]:
    """Shingles of an already canonical prompt (duplicates kept, in text order)."""
    check_shingling(kind, ngram)
    if kind == "char":
        return _char_shingles(canonical, ngram)
    words = _WORD.findall(canonical)
    if not words:
        return _char_shingles(canonical, ngram)
    if len(words) <= ngram:
        return [" ".join(words)]
    if ngram == 1:
        return words
    return [" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]


def hash_shingles(items: list[str]) -> npt.NDArray[np.uint32]:
    """MurmurHash3 x86 32-bit (seed 0) of each shingle's UTF-8 bytes, as ``uint32``."""
    out = np.fromiter(map(mmh3.hash, items), dtype=np.int32, count=len(items))
    return out.view(np.uint32)


def shingle_hashes(canonical: str, kind: ShingleKind, ngram: int) -> npt.NDArray[np.uint32]:
    """:func:`hash_shingles` of :func:`shingles`: the input of a MinHash signature."""
    return hash_shingles(shingles(canonical, kind, ngram))
