"""Shared file handling for the Bloom formats: optional gzip with a cap on the decompressed size."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from ..errors import InvalidParameter, MalformedFile

__all__ = ["DEFAULT_MAX_BYTES", "GZIP_MAGIC", "gzip_bytes", "read_capped", "ungzip_capped"]

#: Default cap on a filter file's (decompressed) size: 1 GiB, a filter of about 300 million tokens
#: at fpr 1e-6. Pass ``max_bytes`` to raise it.
DEFAULT_MAX_BYTES = 1 << 30
GZIP_MAGIC = b"\x1f\x8b"
_PIECE = 1 << 20


def check_max(max_bytes: int | None) -> int:
    if max_bytes is None:
        return DEFAULT_MAX_BYTES
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise InvalidParameter("max_bytes must be a positive integer")
    return max_bytes


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (mtime 0), so equal filters give equal files."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def ungzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip ``data`` (one or more members); more than ``max_bytes`` out is an error.

    Memory use stays below ``max_bytes`` plus one piece, whatever the compression ratio (gzip bombs).
    """
    out = bytearray()
    rest = memoryview(data)
    try:
        while True:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = bytes(rest)
            while True:
                piece = d.decompress(chunk, _PIECE)
                out += piece
                if len(out) > max_bytes:
                    raise MalformedFile(f"decompressed file exceeds the limit of {max_bytes} bytes")
                chunk = d.unconsumed_tail
                if d.eof or (not chunk and not piece):
                    break
            if not d.eof:
                raise MalformedFile("gzip stream is truncated")
            rest = memoryview(d.unused_data)
            if not rest:
                break
            if bytes(rest[:2]) != GZIP_MAGIC:
                raise MalformedFile("trailing bytes after the gzip stream")
    except zlib.error:
        raise MalformedFile("corrupt gzip stream") from None
    return bytes(out)


def maybe_ungzip(data: bytes, max_bytes: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("data must be bytes")
    data = bytes(data)
    if data[:2] == GZIP_MAGIC:
        return ungzip_capped(data, max_bytes)
    if len(data) > max_bytes:
        raise MalformedFile(f"file exceeds the limit of {max_bytes} bytes")
    return data


def read_capped(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """Read a file, refusing one larger than ``max_bytes`` (before reading it whole)."""
    with Path(path).open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MalformedFile(f"file exceeds the limit of {max_bytes} bytes")
    return data


def wants_gzip(path: str | os.PathLike[str], compress: bool | None) -> bool:
    return str(path).endswith(".gz") if compress is None else bool(compress)
