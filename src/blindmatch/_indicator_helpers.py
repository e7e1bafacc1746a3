"""Small helpers of :mod:`blindmatch.indicator_set`: argument checks, the reason a value does not
canonicalize, the matched items of a result, and batching of iterables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .canonical import CANON_VERSION, canonicalize
from .errors import InvalidIndicator, InvalidParameter
from .psi import PsiResult
from .session import SessionResult

_CHUNK = 1 << 16  # rows of an iterable canonicalized per batch


def _check_errors(errors: str) -> None:
    if errors not in ("raise", "skip"):
        raise InvalidParameter("errors must be 'raise' or 'skip'")


def _reason(kind: str, value: str, region: str | None, version: int = CANON_VERSION) -> str:
    """Why one value does not canonicalize (only asked for the first few, to name them by origin)."""
    try:
        canonicalize(kind, value, default_region=region, version=version)
    except InvalidIndicator as exc:
        return exc.reason
    return "invalid"  # pragma: no cover - canonicalize_many skipped it


def _matched_items(result: Iterable[bytes] | PsiResult | SessionResult) -> list[bytes]:
    if isinstance(result, SessionResult):
        items = result.matched_items
    elif isinstance(result, PsiResult):
        items = result.matched
    elif isinstance(result, bytes | str):
        raise InvalidParameter("give matched items as an iterable of bytes, a PsiResult or a SessionResult")
    else:
        items = list(result)
    if items is None:
        raise InvalidParameter("this result carries no matched items (its mode gives this side only a count)")
    for it in items:
        if not isinstance(it, bytes):
            raise InvalidParameter("matched items must be bytes")
    return items


def _chunks(it: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for x in it:
        chunk.append(x)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
