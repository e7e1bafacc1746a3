"""Items of the PSI protocol made from canonical indicators."""

from __future__ import annotations

from ..canonical import CANON_VERSION
from ..errors import InvalidParameter

__all__ = ["ITEM_PREFIX", "indicator_item"]

ITEM_PREFIX = b"blindmatch/psi-item/v1\x00"


def indicator_item(kind: str, canonical: str) -> bytes:
    """The PSI item for a canonical indicator ``(kind, canonical)``.

    ``prefix || canon version (1 byte) || len(kind) (1 byte) || kind || len(value) (4 bytes BE) || value``
    (UTF-8): versioned, domain-separated (the same value under two kinds gives two unrelated items) and
    unambiguous. ``canonical`` must already be canonical (see :func:`blindmatch.canonical.canonicalize`).
    """
    if not isinstance(kind, str) or not isinstance(canonical, str):
        raise InvalidParameter("kind and canonical must be str")
    k = kind.encode("ascii", errors="strict") if kind.isascii() else b""
    if not k or len(k) > 255:
        raise InvalidParameter("kind must be 1 to 255 ASCII characters")
    try:
        v = canonical.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter("canonical value is not encodable as UTF-8") from None
    if len(v) >= 1 << 32:
        raise InvalidParameter("canonical value too long")
    return b"".join(
        (ITEM_PREFIX, bytes([CANON_VERSION, len(k)]), k, len(v).to_bytes(4, "big"), v)
    )
