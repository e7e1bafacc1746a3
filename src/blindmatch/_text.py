"""Peer-supplied text made safe to print: one helper for every message, record and log line that shows it.

A peer's text (a purpose, a refusal reason, a name) can hold characters that change how a terminal or an
editor shows what follows: C0 and C1 controls (ESC and CSI start terminal escape sequences), DEL, the
Unicode bidirectional embeddings, overrides, isolates and marks (which reorder what is displayed, e.g.
``invoice\\u202efdp.exe``), zero-width and other format characters, line and paragraph separators, and
lone surrogates. These are the characters whose Unicode general category is ``Cc``, ``Cf``, ``Cs``,
``Zl`` or ``Zp``. Manifests refuse them in ``purpose``; everything else shown from a peer goes through
:func:`safe_text`, which replaces each one by its Python escape (``\\x1b``, ``\\u202e``), so the text
stays on one line and reads in the order it was written.
"""

from __future__ import annotations

import unicodedata

__all__ = ["UNSAFE_CATEGORIES", "safe_text", "unsafe_characters"]

#: Unicode general categories never shown as they are: controls, format (bidi and zero-width) characters,
#: surrogates, line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _unsafe(c: str) -> bool:
    return unicodedata.category(c) in UNSAFE_CATEGORIES


def unsafe_characters(text: str) -> list[str]:
    """The characters of ``text`` that :func:`safe_text` would escape, in order."""
    return [c for c in text if _unsafe(c)]


def safe_text(text: object, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters, each unsafe character replaced by its escape (``\\u202e``).

    The result is one printable line: what a peer wrote, never what it wants a terminal to do. Anything
    else than a ``str`` (an exception, say) is shown as its ``str()``.
    """
    text = text if isinstance(text, str) else str(text)
    return "".join(repr(c)[1:-1] if _unsafe(c) else c for c in text[:limit])
