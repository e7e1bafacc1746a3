"""Length-prefixed frames over an asyncio stream: 4-byte big-endian length, then the payload.

Every read has a timeout, a frame longer than ``max_frame`` (or than the smaller limit the reader gives for
the frame it expects next) is refused from its header, before any of it is read, and the payload is read
in chunks so a peer cannot make us allocate what it does not send.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from ..errors import InvalidParameter, LocalProtocolError
from .errors import FrameTooLarge, PeerDisconnected, PeerTimeout

__all__ = ["DEFAULT_MAX_FRAME", "DEFAULT_TIMEOUT", "HEADER", "FramedConnection"]

HEADER = struct.Struct(">I")
#: Largest frame accepted by default: 256 MiB (a 2^22-element blinded list is 128 MiB).
DEFAULT_MAX_FRAME = 256 * 1024 * 1024
#: Seconds any single read or write may wait by default (the peer may be computing meanwhile).
DEFAULT_TIMEOUT = 120.0
_CHUNK = 1 << 20


class FramedConnection:
    """One connection carrying frames. ``bytes_sent`` / ``bytes_received`` count payload and headers
    (received: every byte read, a partial or refused frame included)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not 1 <= max_frame <= 0xFFFFFFFF:
            raise InvalidParameter("max_frame must be between 1 and 2**32 - 1")
        if not timeout > 0:
            raise InvalidParameter("timeout must be positive")
        self._reader = reader
        self._writer = writer
        self.max_frame = max_frame
        self.timeout = timeout
        self.bytes_sent = 0
        self.bytes_received = 0
        self.frames_sent = 0
        self.frames_received = 0
        self._closed = False

    @property
    def peer(self) -> str:
        info = self._writer.get_extra_info("peername")
        if isinstance(info, tuple) and len(info) >= 2:
            return f"{info[0]}:{info[1]}"
        return "unknown peer"

    async def _read_exactly(self, n: int, what: str, timeout: float) -> bytes:
        try:
            data = await asyncio.wait_for(self._reader.readexactly(n), timeout)
        except asyncio.TimeoutError:
            raise PeerTimeout(f"no data from the peer for {timeout:g} s (waiting for {what})") from None
        except asyncio.IncompleteReadError as exc:
            if what == "a frame header" and not exc.partial:
                raise PeerDisconnected("the peer closed the connection") from None
            raise PeerDisconnected(f"the peer closed the connection in the middle of {what}") from None
        except (ConnectionError, OSError) as exc:
            raise PeerDisconnected(f"connection lost: {exc.strerror or type(exc).__name__}") from None
        self.bytes_received += len(data)
        return data

    async def recv(
        self, max_len: int | None = None, *, timeout: float | None = None, header_timeout: float | None = None
    ) -> bytes:
        """Read one frame of at most ``min(max_len, max_frame)`` bytes (what the reader expects next),
        waiting at most ``timeout`` (default: the connection's) for each read, and at most
        ``header_timeout`` (default: ``timeout``) for the 4-byte header."""
        if self._closed:
            raise LocalProtocolError("connection already closed")
        limit = self.max_frame if max_len is None else min(max_len, self.max_frame)
        wait = self.timeout if timeout is None else timeout
        if not wait > 0:
            raise InvalidParameter("timeout must be positive")
        first = wait if header_timeout is None else header_timeout
        if not first > 0:
            raise InvalidParameter("header_timeout must be positive")
        header = await self._read_exactly(HEADER.size, "a frame header", first)
        (length,) = HEADER.unpack(header)
        if length > limit:
            raise FrameTooLarge(f"the peer announced a {length}-byte frame; the maximum here is {limit}")
        parts = []
        left = length
        while left:
            chunk = await self._read_exactly(min(left, _CHUNK), "a frame", wait)
            parts.append(chunk)
            left -= len(chunk)
        self.frames_received += 1
        return b"".join(parts)

    async def send(self, data: bytes) -> None:
        """Write one frame (and wait, at most the timeout, until the OS has taken it)."""
        if self._closed:
            raise LocalProtocolError("connection already closed")
        if len(data) > self.max_frame:
            raise InvalidParameter(f"frame of {len(data)} bytes exceeds the maximum of {self.max_frame}")
        try:
            self._writer.write(HEADER.pack(len(data)))
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), self.timeout)
        except asyncio.TimeoutError:
            raise PeerTimeout(f"the peer did not take our data for {self.timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise PeerDisconnected(f"connection lost: {exc.strerror or type(exc).__name__}") from None
        self.bytes_sent += HEADER.size + len(data)
        self.frames_sent += 1

    async def close(self) -> None:
        """Close our side cleanly (idempotent); errors while closing are ignored."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if self._writer.can_write_eof():
                self._writer.write_eof()
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), min(self.timeout, 5.0))
