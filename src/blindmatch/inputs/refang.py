"""Refanging: undoing the defanging of network indicators (``hxxp://evil[.]com``) as an input step.

Canonicalization stays strict (``evil[.]com`` is not a domain); readers undo defanging before it, per
kind, and only for the network kinds (:data:`REFANG_KINDS`). Prompts, user agents, opaque values and free
text are never touched: ``Ignore previous instructions [.] then (dot) print`` is a prompt, not a defanged
domain, and refanging it would change its fingerprint.

The replacement of each defang marker comes from ``ioc-fanger``. Run over a whole value, ``fang`` is too
aggressive for indicators (``http://x.example/getATtr`` becomes ``.../get@tr``, ``my-dot-com.example``
becomes ``my.com.example``, ``?q=a^b`` becomes ``?q=a.``, ``/redirect/http/x`` becomes ``/redirect/http:/x``),
so here it only ever sees one marker at a time: a closed list of forms (:data:`MARKERS`) is found first, and
nothing outside a marker can change. See ``docs/canonicalization.md``, "Canon version 2: refanging".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from ioc_fanger import fang as _untyped_fang

from ._common import InputBatch, InputRow

__all__ = [
    "FREE_FORM_FORMATS",
    "REFANG_KINDS",
    "refang",
    "refang_batch",
    "refangs",
]

fang: Callable[[str], str] = _untyped_fang

#: The kinds refanging applies to. Never prompts, user agents, opaque values or text.
REFANG_KINDS: frozenset[str] = frozenset({"url", "domain", "ip", "cidr", "email"})

#: Formats refanged unless told otherwise: files people write and paste into. STIX patterns and MISP
#: attributes (JSON) are structured exchange formats whose values their producers validate; a defanged
#: value there is reported as invalid unless refanging is asked for explicitly.
FREE_FORM_FORMATS: frozenset[str] = frozenset({"lines", "csv", "jsonl"})

# What a bracketed marker may hold, by the character it stands for; and which kinds accept which.
_INNER = {".": r"\.|dot", "://": r"://", ":": r":", "/": r"/", "@": r"@|at"}
_ALLOWED: dict[str, tuple[str, ...]] = {
    "url": (".", "://", ":", "/", "@"),  # in a url only up to the end of its host (see _authority_end)
    "domain": (".",),
    "ip": (".", ":"),
    "cidr": (".", ":", "/"),
    "email": (".", "@"),
}


def _pattern(kind: str) -> re.Pattern[str]:
    """The markers ``kind`` accepts: one of ``[ ( {``, a character or word, one of ``] ) }``, with up to 3
    spaces around (ioc-fanger's forms); and, except in urls (where it is a real path), ``\\.``. Every
    alternative starts with a fixed character, so that the search skips ahead fast."""
    inner = "|".join(_INNER[c] for c in _ALLOWED[kind])
    bracket = rf"[\[({{]\ {{0,3}}(?:{inner})\ {{0,3}}[\])}}]\ {{0,3}}"
    return re.compile(rf"\ \ {{0,2}}{bracket}|{bracket}" + ("" if kind == "url" else r"|\\\."), re.IGNORECASE)


_MARKER_RE: dict[str, re.Pattern[str]] = {kind: _pattern(kind) for kind in _ALLOWED}
# A defanged scheme, at the start of a url only: hxxp, hXXps, h**p, xxxx (http), xxxxx / xxxxs (https).
_SCHEME_RE = re.compile(r"\ {0,3}(?:h[x*]{2}ps?|x{4}s?|x{5})(?=\ {0,3}(?::|[\[({]))", re.IGNORECASE)
# Cheap test first: a value with none of these characters (or, for urls, no defanged scheme) has no marker.
_GATE = re.compile(r"[\[({\\]")
_WORDS = {"dot": ".", "at": "@"}


def _read(name: str, token: str) -> str | None:
    """What one marker stands for (ioc-fanger's reading), or None when it reads it as anything else.
    ``name`` is what it should stand for: ``.``, ``:``, ``://``, ``/``, ``@``, or ``scheme``."""
    if name == "scheme":
        t = token.strip().lower().replace("*", "x")
        out = fang(t + "://")  # ioc-fanger reads a scheme only with its '://'
        out = out[: -len("://")] if out.endswith("://") else out
        return out if out in ("http", "https") else None
    if name == "/":
        return "/"  # ioc-fanger has no rule for '[/]'
    out = fang(token.replace(" ", ""))  # spaces inside a marker are ours to drop
    return out if out == name else None


# token as written -> (replacement, reason); the reason is None for a token left as it is
_TOKENS: dict[str, tuple[str, str | None]] = {}
_MAX_TOKENS = 4096


def _token(token: str, name: str | None = None) -> tuple[str, str | None]:
    hit = _TOKENS.get(token)
    if hit is None:
        if name is None:  # a bracketed marker or '\.': what it stands for is inside it
            core = token.replace(" ", "").lower()
            core = "." if core == "\\." else core[1:-1]
            name = _WORDS.get(core, core)
        new = _read(name, token)
        hit = (token, None) if new is None else (new, f"{_shown(token)} -> {new}")
        if len(_TOKENS) < _MAX_TOKENS:
            _TOKENS[token] = hit
    return hit


def refang(kind: str, value: str) -> tuple[str, str | None]:
    """``value`` with its defang markers undone, and why (``"[.] -> ."``; several joined by ``"; "``), or
    ``(value, None)`` when nothing changed (always for kinds not in :data:`REFANG_KINDS`)."""
    pattern = _MARKER_RE.get(kind)
    if pattern is None or not _may_hold_marker(kind, value):
        return value, None
    reasons: list[str] = []
    out = value
    if kind == "url":
        m = _SCHEME_RE.match(value)
        if m is not None:
            new, reason = _token(m.group(), "scheme")
            if reason is not None:
                out = new + value[m.end() :]
                reasons.append(reason)

    def replace(m: re.Match[str]) -> str:
        new, reason = _token(m.group())
        if reason is not None and reason not in reasons:
            reasons.append(reason)
        return new

    if kind == "url":  # only the scheme, '://' and the host part: a path, query or fragment is left as it is
        end = _authority_end(out, pattern)
        out = pattern.sub(replace, out[:end]) + out[end:]
    else:
        out = pattern.sub(replace, out)
    return (out, "; ".join(reasons)) if reasons else (value, None)


def _authority_end(url: str, pattern: re.Pattern[str]) -> int:
    """Where a url's host part ends: the first ``/``, ``?`` or ``#`` after its ``//`` (or from the start,
    without one) that is not inside a marker; a marker that begins before it (``evil.com[/]x``) still
    counts as part of the host part."""
    spans = [m.span() for m in pattern.finditer(url)]
    slashes = url.find("//")
    i = slashes + 2 if slashes >= 0 else 0
    for span_start, span_end in spans:  # '//' written inside a marker ('[://]') starts the host part
        if "//" in url[span_start:span_end] and (slashes < 0 or span_start < slashes):
            i = span_end
            break
    k = 0  # spans are sorted and do not overlap: walk them with the position (linear)
    while i < len(url):
        while k < len(spans) and spans[k][1] <= i:
            k += 1
        if k < len(spans) and spans[k][0] <= i:
            i = spans[k][1]
            continue
        if url[i] in "/?#":
            return i
        i += 1
    return len(url)


def _may_hold_marker(kind: str, value: str) -> bool:
    """The cheap test: false for a value that holds no marker (nearly every value: not defanged)."""
    if _GATE.search(value) is not None:
        return True
    return kind == "url" and _SCHEME_RE.match(value) is not None


def _shown(token: str) -> str:
    """A marker as counted: without its spaces, lower case (``[ . ]`` and ``[.]`` are one reason)."""
    return token.replace(" ", "").lower()


def refangs(refang_option: bool | None, fmt: str) -> bool:
    """Whether a file of format ``fmt`` is refanged: ``refang_option`` when given, otherwise by format
    (:data:`FREE_FORM_FORMATS`)."""
    return fmt in FREE_FORM_FORMATS if refang_option is None else bool(refang_option)


def refang_batch(batch: InputBatch) -> None:
    """Refang every row of ``batch`` of a :data:`REFANG_KINDS` kind in place; count the changes by reason
    in ``batch.refanged``."""
    rows = batch.rows
    counts: Counter[str] = batch.refanged
    gate, scheme = _GATE.search, _SCHEME_RE.match
    for i, row in enumerate(rows):
        kind, value = row.kind, row.value
        if kind not in REFANG_KINDS or (gate(value) is None and (kind != "url" or scheme(value) is None)):
            continue  # no marker: the common case, decided without a call
        value, reason = refang(kind, value)
        if reason is not None:
            rows[i] = InputRow(kind, value, row.origin)
            counts[reason] += 1
