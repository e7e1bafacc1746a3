"""Placeholder tag set (uncompressed); replaced by the compressed one before release."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import InvalidParameter, MalformedFile

__all__ = ["TagSet", "bits_for", "encode_tags"]


def bits_for(n: int, evaluations: int, security_bits: int = 40) -> int:
    t = math.ceil(security_bits + math.log2(max(1, n * evaluations)))
    if t > 128:
        raise InvalidParameter("tags would exceed 128 bits")
    return max(32, t)


def encode_tags(tags: Sequence[bytes], bits: int) -> bytes:
    return bytes([bits]) + len(tags).to_bytes(4, "big") + b"".join(tags)


class TagSet:
    def __init__(self, bits: int, tags: list[bytes]) -> None:
        self.bits = bits
        self._tags = tags
        self.count = len(tags)
        self._index = {t: i for i, t in enumerate(tags)}

    @classmethod
    def from_bytes(cls, data: bytes, *, max_count: int) -> TagSet:
        if len(data) < 5:
            raise MalformedFile("short tag set")
        bits, n = data[0], int.from_bytes(data[1:5], "big")
        nb = (bits + 7) // 8
        if n > max_count or len(data) != 5 + n * nb:
            raise MalformedFile("bad tag set")
        return cls(bits, [data[5 + i * nb : 5 + (i + 1) * nb] for i in range(n)])

    def find(self, tags: Sequence[bytes]) -> list[int | None]:
        return [self._index.get(t) for t in tags]

    def tags(self) -> list[bytes]:
        return list(self._tags)
