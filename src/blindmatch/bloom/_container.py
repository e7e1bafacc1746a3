"""Shared file handling for the Bloom formats: optional gzip with a cap on the decompressed size."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from pathlib import Path

from ..errors import InvalidParameter, MalformedFile

__all__ = ["DEFAULT_MAX_BYTES", "GZIP_MAGIC", "decode", "gzip_bytes", "read_capped", "ungzip_capped"]

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


def ungzip_capped(data: bytes, max_bytes: int, *, head: bool = False) -> bytes:
    """Decompress gzip ``data`` (one or more members); more than ``max_bytes`` out is an error.

    With ``head=True``, return just the first ``max_bytes`` bytes (fewer if the stream is shorter).
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
                if head and len(out) >= max_bytes:
                    return bytes(out[:max_bytes])
                if len(out) > max_bytes:
                    raise MalformedFile(f"decompressed file exceeds the limit of {max_bytes} bytes")
                chunk = d.unconsumed_tail
                if d.eof or (not chunk and not piece):
                    break
            if not d.eof:
                if head:
                    return bytes(out)
                raise MalformedFile("gzip stream is truncated")
            rest = memoryview(d.unused_data)
            if not rest:
                break
            if bytes(rest[:2]) != GZIP_MAGIC:
                raise MalformedFile("trailing bytes after the gzip stream")
    except zlib.error:
        raise MalformedFile("corrupt gzip stream") from None
    return bytes(out)


def decode(
    data: bytes,
    max_bytes: int,
    head_size: int,
    expected_size: Callable[[bytes], tuple[int, bool]],
    what: str,
) -> bytes:
    """The file's bytes, gunzipped if gzip, checked against its own header before the bulk is read.

    ``expected_size(head)`` validates the first ``head_size`` bytes (raising :class:`MalformedFile`) and
    returns ``(size, exact)``: the bytes the header implies and whether more are an error. A gzip file is
    decompressed only as far as that size (or ``max_bytes`` when more may follow), so a bomb or a header
    that lies is caught before any large allocation.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("data must be bytes")
    data = bytes(data)
    gz = data[:2] == GZIP_MAGIC
    if not gz and len(data) > max_bytes:
        raise MalformedFile(f"{what}: file exceeds the limit of {max_bytes} bytes")
    head = ungzip_capped(data, head_size, head=True) if gz else data[:head_size]
    if len(head) < head_size:
        raise MalformedFile(f"{what}: truncated header")
    size, exact = expected_size(head)
    if size > max_bytes:
        raise MalformedFile(f"{what}: header implies {size} bytes, over the limit of {max_bytes}")
    raw = data
    if gz:
        try:
            raw = ungzip_capped(data, size if exact else max_bytes)
        except MalformedFile as exc:
            if exact and "exceeds the limit" in str(exc):
                raise MalformedFile(f"{what}: longer than its header implies ({size} bytes)") from None
            raise
    if len(raw) < size:
        raise MalformedFile(
            f"{what}: header implies {size} bytes but only {len(raw)} are present (truncated)"
        )
    if exact and len(raw) > size:
        raise MalformedFile(f"{what}: longer than its header implies ({size} bytes)")
    return raw


def read_capped(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """Read a file, refusing one larger than ``max_bytes`` (before reading it whole)."""
    with Path(path).open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MalformedFile(f"file exceeds the limit of {max_bytes} bytes")
    return data


def wants_gzip(path: str | os.PathLike[str], compress: bool | None) -> bool:
    return str(path).endswith(".gz") if compress is None else bool(compress)
