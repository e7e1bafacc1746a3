"""The published-set file: one signed file per publisher, epoch and sequence number (docs/published-sets.md).

Layout (integers big-endian)::

    0  4  magic b"BMPS"
    4  1  format version (1)
    5  4  header length H
    9  H  header: canonical JSON (members below)
    ..    for each kind, in sorted order: its tag set (``tags_bytes``), then, unless ``label_bytes`` is 0
          or the file is a withdrawal, ``count * (label_bytes + 16)`` bytes of sealed labels in tag order
    ..64  Ed25519 signature by ``publisher`` over "blindmatch-published-v1 file\\0" || every byte before

Header members: ``format`` ("blindmatch-published-set"), ``suite`` (the OPRF suite id), ``file_id``
(16 random bytes, hex), ``publisher`` (Ed25519 key, hex), ``epoch`` (1 to 64 characters), ``type``
(``base``, ``delta`` or ``withdrawal``), ``sequence`` (0 for the base, then 1, 2, ...), ``base`` (the
base file's id; the base names itself), ``not_before`` / ``not_after`` / ``created`` (Unix seconds),
``canon_version``, ``tag_bits``, ``label_bytes``, ``evaluations`` (the lifetime bound ``Q`` the tag
length was chosen for), ``padding`` (``none`` or ``pow2``) and ``kinds``: ``{kind: {"key": K_e hex,
"count": padded count, "tags_bytes": n}}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._strictjson import object_without_duplicates
from ..errors import InvalidParameter
from ..hazmat.oprf import SUITE_ID
from ..session._canonjson import canonical_json
from ..session.identity import PublicIdentity
from .errors import ExpiredFile, ForgedFile, MalformedPublishedFile
from .labels import AEAD_TAG_BYTES, MAX_LABEL_BYTES
from .tagset import TagSet

__all__ = [
    "FILE_FORMAT",
    "FILE_TYPES",
    "MAGIC",
    "KindSection",
    "PublishedFile",
    "file_signed_bytes",
    "pack_file",
    "tag_of",
]

MAGIC = b"BMPS"
FORMAT_VERSION = 1
FILE_FORMAT = "blindmatch-published-set"
FILE_TYPES = ("base", "delta", "withdrawal")
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 64 * 1024
_SIG_CONTEXT = b"blindmatch-published-v1 file\x00"
_TAG_LABEL = b"blindmatch-published-v1 tag"
_MEMBERS = frozenset(
    {
        "format",
        "suite",
        "file_id",
        "publisher",
        "epoch",
        "type",
        "sequence",
        "base",
        "not_before",
        "not_after",
        "created",
        "canon_version",
        "tag_bits",
        "label_bytes",
        "evaluations",
        "padding",
        "kinds",
    }
)
_KIND_MEMBERS = frozenset({"key", "count", "tags_bytes"})
_MAX_SEQUENCE = 1 << 20


def tag_of(output: bytes, bits: int) -> bytes:
    """The ``bits``-bit tag (``ceil(bits/8)`` bytes, big-endian, top bits zero) of a 64-byte OPRF output."""
    nbytes = (bits + 7) // 8
    d = bytearray(hashlib.sha512(_TAG_LABEL + output).digest()[:nbytes])
    d[0] &= (1 << (bits - 8 * (nbytes - 1))) - 1
    return bytes(d)


def file_signed_bytes(unsigned: bytes) -> bytes:
    """What the publisher's signature covers."""
    return _SIG_CONTEXT + unsigned


@dataclass(frozen=True)
class KindSection:
    """One kind's part of a file: its public key, padded count, tags and sealed labels."""

    kind: str
    key: bytes
    count: int
    tags: TagSet = field(repr=False)
    labels: bytes = field(repr=False)

    def label(self, index: int, label_bytes: int) -> bytes:
        size = label_bytes + AEAD_TAG_BYTES
        return self.labels[index * size : (index + 1) * size]


@dataclass(frozen=True)
class PublishedFile:
    """A parsed, signature-checked published-set file (:meth:`from_bytes`)."""

    header: dict[str, Any]
    kinds: dict[str, KindSection]
    sha256: bytes
    size: int
    publisher: PublicIdentity = field(repr=False)

    @property
    def file_id(self) -> bytes:
        return bytes.fromhex(self.header["file_id"])

    @property
    def base_id(self) -> bytes:
        return bytes.fromhex(self.header["base"])

    @property
    def epoch(self) -> str:
        return str(self.header["epoch"])

    @property
    def type(self) -> str:
        return str(self.header["type"])

    @property
    def sequence(self) -> int:
        return int(self.header["sequence"])

    @property
    def tag_bits(self) -> int:
        return int(self.header["tag_bits"])

    @property
    def label_bytes(self) -> int:
        return int(self.header["label_bytes"]) if self.type != "withdrawal" else 0

    def check_time(self, now: float, skew_s: int = 300) -> None:
        """:class:`ExpiredFile` unless ``not_before - skew <= now <= not_after + skew``."""
        if now > self.header["not_after"] + skew_s:
            raise ExpiredFile(f"the published file for epoch {self.epoch!r} expired")
        if now < self.header["not_before"] - skew_s:
            raise ExpiredFile(f"the published file for epoch {self.epoch!r} is not valid yet")

    @classmethod
    def from_bytes(
        cls, data: bytes, *, publisher: PublicIdentity | None = None, max_items: int = 1 << 24
    ) -> PublishedFile:
        """Parse and check ``data``; with ``publisher``, the file must be signed by that key.

        Everything is checked before any section is decoded: sizes against ``max_items`` and the data,
        the header's members, the signature. Raises :class:`MalformedPublishedFile` or
        :class:`ForgedFile` (both :class:`~blindmatch.MalformedFile`).
        """
        data = bytes(data)
        if len(data) < 9 + SIGNATURE_BYTES or data[:4] != MAGIC:
            raise MalformedPublishedFile("not a blindmatch published-set file (bad magic or truncated)")
        if data[4] != FORMAT_VERSION:
            raise MalformedPublishedFile(f"unsupported published-set format version {data[4]}")
        hlen = int.from_bytes(data[5:9], "big")
        if hlen > MAX_HEADER_BYTES or 9 + hlen + SIGNATURE_BYTES > len(data):
            raise MalformedPublishedFile("the published-set header length is out of range")
        raw_header = data[9 : 9 + hlen]
        header = _parse_header(raw_header, max_items)
        key = PublicIdentity(bytes.fromhex(header["publisher"]))
        if publisher is not None and key != publisher:
            raise ForgedFile("the file is signed by another publisher than the one named")
        body_end = len(data) - SIGNATURE_BYTES
        if not key.verify(data[body_end:], file_signed_bytes(data[:body_end])):
            raise ForgedFile("the published file's signature does not verify")
        kinds = _sections(header, data[9 + hlen : body_end], max_items)
        return cls(header, kinds, hashlib.sha256(data).digest(), len(data), key)


def _parse_header(raw: bytes, max_items: int) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("ascii"), object_pairs_hook=object_without_duplicates)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedPublishedFile("the published-set header is not JSON (or nests too deeply)") from None
    if not isinstance(doc, dict) or set(doc) != _MEMBERS:
        raise MalformedPublishedFile("the published-set header has missing or unknown members")
    try:
        if canonical_json(doc) != raw:
            raise MalformedPublishedFile("the published-set header is not canonical JSON")
    except InvalidParameter:
        raise MalformedPublishedFile("the published-set header holds values JSON cannot carry") from None
    _check_header(doc, max_items)
    return doc


def is_epoch_name(v: Any) -> bool:
    """An epoch's name: 1 to 64 printable ASCII characters (files, epoch keys and log entries alike)."""
    return isinstance(v, str) and 0 < len(v) <= 64 and v.isascii() and v.isprintable()


def _is_int(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _is_hex(v: Any, nbytes: int) -> bool:
    return isinstance(v, str) and len(v) == 2 * nbytes and all(c in "0123456789abcdef" for c in v)


def _check_header(h: dict[str, Any], max_items: int) -> None:
    bad = MalformedPublishedFile
    if h["format"] != FILE_FORMAT or h["suite"] != SUITE_ID.decode("ascii"):
        raise bad("another file format or OPRF suite than this blindmatch knows")
    if not (_is_hex(h["file_id"], 16) and _is_hex(h["base"], 16) and _is_hex(h["publisher"], 32)):
        raise bad("file_id, base and publisher must be hex of 16, 16 and 32 bytes")
    if not is_epoch_name(h["epoch"]):
        raise bad("the epoch is 1 to 64 printable ASCII characters")
    if h["type"] not in FILE_TYPES or not _is_int(h["sequence"], 0, _MAX_SEQUENCE):
        raise bad("the file type or sequence number is out of range")
    if (h["type"] == "base") != (h["sequence"] == 0) or (h["type"] == "base") != (h["base"] == h["file_id"]):
        raise bad("a base file has sequence 0 and names itself as base; deltas and withdrawals do not")
    times = (h["not_before"], h["not_after"], h["created"])
    if not all(_is_int(t, 0, 2**40) for t in times) or h["not_before"] >= h["not_after"]:
        raise bad("the validity window is malformed")
    if not (
        _is_int(h["canon_version"], 1, 255)
        and _is_int(h["tag_bits"], 32, 128)
        and _is_int(h["label_bytes"], 0, MAX_LABEL_BYTES)
        and _is_int(h["evaluations"], 1, 2**50)
    ):
        raise bad("canon_version, tag_bits, label_bytes or evaluations is out of range")
    if h["label_bytes"] == 1 or h["padding"] not in ("none", "pow2"):
        raise bad("label_bytes is 0 or at least 2, and padding is none or pow2")
    _check_kinds(h["kinds"], max_items)


def _check_kinds(kinds: Any, max_items: int) -> None:
    bad = MalformedPublishedFile
    if not isinstance(kinds, dict) or len(kinds) > 64:
        raise bad("the header's kinds must be an object of at most 64 kinds")
    total = 0
    for kind, sec in kinds.items():
        if not 0 < len(kind) <= 64 or not kind.isascii() or not kind.isprintable():
            raise bad("a kind is 1 to 64 printable ASCII characters")
        if not isinstance(sec, dict) or set(sec) != _KIND_MEMBERS or not _is_hex(sec["key"], 32):
            raise bad(f"kind {kind!r}: members key, count and tags_bytes")
        if not (_is_int(sec["count"], 0, max_items) and _is_int(sec["tags_bytes"], 0, 2**40)):
            raise bad(f"kind {kind!r}: count or tags_bytes out of range (at most {max_items} items)")
        total += sec["count"]
    if total > max_items:
        raise bad(f"the file holds more than {max_items} items")


def _sections(h: dict[str, Any], body: bytes, max_items: int) -> dict[str, KindSection]:
    label_size = (
        0 if h["type"] == "withdrawal" or h["label_bytes"] == 0 else h["label_bytes"] + AEAD_TAG_BYTES
    )
    out: dict[str, KindSection] = {}
    pos = 0
    for kind in sorted(h["kinds"]):
        sec = h["kinds"][kind]
        end = pos + sec["tags_bytes"]
        lend = end + sec["count"] * label_size
        if lend > len(body):
            raise MalformedPublishedFile(f"kind {kind!r}: the file is shorter than its header says")
        tags = TagSet.from_bytes(body[pos:end], max_count=max_items)
        if tags.count != sec["count"] or tags.bits != h["tag_bits"]:
            raise MalformedPublishedFile(f"kind {kind!r}: the tag set disagrees with the header")
        out[kind] = KindSection(kind, bytes.fromhex(sec["key"]), sec["count"], tags, body[end:lend])
        pos = lend
    if pos != len(body):
        raise MalformedPublishedFile("the file has bytes after its last section")
    return out


def pack_file(
    header: Mapping[str, Any], sections: Mapping[str, tuple[bytes, bytes]], sign: Callable[[bytes], bytes]
) -> bytes:
    """The signed file bytes: ``sections[kind] = (tag set bytes, sealed labels)``; ``sign(data)`` gives
    the 64-byte signature."""
    raw = canonical_json(dict(header))
    parts = [MAGIC, bytes([FORMAT_VERSION]), len(raw).to_bytes(4, "big"), raw]
    for kind in sorted(sections):
        parts += list(sections[kind])
    unsigned = b"".join(parts)
    return unsigned + sign(file_signed_bytes(unsigned))
