"""The publisher's side: the epoch key file and building signed base, delta and withdrawal files."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._fileio import atomic_write, check_private_file, read_capped, wipe_and_remove
from .._strictjson import object_without_duplicates
from ..errors import InvalidParameter
from ..hazmat.oprf import SUITE_ID, KindKey, derive_kind_key, publisher_outputs
from ..psi import IndicatorItems
from ..psi._parallel import map_chunked
from ..session._canonjson import canonical_json
from ..session.identity import Identity
from ..session.padding import padded_size
from .errors import EpochKeyError
from .file import FILE_FORMAT, is_epoch_name, pack_file, tag_of
from .labels import MAX_LABEL_BYTES, check_label, seal_label
from .tagset import bits_for, encode_tags

__all__ = ["DEFAULT_EVALUATIONS", "EpochKey", "Labels", "build_file", "default_tag_bits"]

#: Default lifetime bound on evaluations (all queriers together) that sizes the tags: 2^24.
DEFAULT_EVALUATIONS = 1 << 24
_KEY_FORMAT = "blindmatch-epoch-key"
Rng = Callable[[int], bytes]
_NO_CAP = 1 << 40  # the file's padding has no cap of its own (pow2 or none)
#: Labels by ``(kind, canonical value)``.
Labels = Mapping[tuple[str, str], Mapping[str, Any]]


@dataclass(frozen=True, repr=False)
class EpochKey:
    """A publisher's secret for one epoch (32 random bytes, independent of every other epoch's) and the
    parameters every file of the epoch shares. Saved 0600 (:meth:`save`); :meth:`destroy` when the epoch
    is over. Its repr never shows the secret."""

    publisher: bytes
    epoch: str
    secret: bytes
    base_id: bytes
    next_sequence: int
    not_before: int
    not_after: int
    canon_version: int
    tag_bits: int
    label_bytes: int
    evaluations: int

    def __repr__(self) -> str:
        return f"EpochKey(epoch={self.epoch!r}, next_sequence={self.next_sequence})"

    @classmethod
    def generate(
        cls,
        identity: Identity,
        epoch: str,
        *,
        not_before: int,
        not_after: int,
        tag_bits: int,
        label_bytes: int,
        evaluations: int,
        canon_version: int,
        rng: Rng = os.urandom,
    ) -> EpochKey:
        if not is_epoch_name(epoch):
            raise InvalidParameter("an epoch is 1 to 64 printable ASCII characters")
        if not 0 <= not_before < not_after:
            raise InvalidParameter("not_before must come before not_after")
        if label_bytes == 1 or not 0 <= label_bytes <= MAX_LABEL_BYTES:
            raise InvalidParameter(f"label_bytes is 0 or 2 to {MAX_LABEL_BYTES}")
        secret, base_id = rng(32), rng(16)
        if len(secret) != 32 or len(base_id) != 16:
            raise InvalidParameter("rng(n) must return exactly n bytes")
        return cls(
            identity.public.raw,
            epoch,
            secret,
            base_id,
            0,
            not_before,
            not_after,
            canon_version,
            tag_bits,
            label_bytes,
            evaluations,
        )

    def kind_key(self, kind: str) -> KindKey:
        return derive_kind_key(self.secret, kind)

    def to_bytes(self) -> bytes:
        doc = {
            "format": _KEY_FORMAT,
            "suite": SUITE_ID.decode(),
            "publisher": self.publisher.hex(),
            "epoch": self.epoch,
            "secret": self.secret.hex(),
            "base_id": self.base_id.hex(),
            "next_sequence": self.next_sequence,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "canon_version": self.canon_version,
            "tag_bits": self.tag_bits,
            "label_bytes": self.label_bytes,
            "evaluations": self.evaluations,
        }
        return canonical_json(doc) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> EpochKey:
        try:
            doc = json.loads(data.decode("ascii"), object_pairs_hook=object_without_duplicates)
            if doc.pop("format") != _KEY_FORMAT or doc.pop("suite") != SUITE_ID.decode():
                raise ValueError
            key = cls(
                publisher=bytes.fromhex(doc.pop("publisher")),
                secret=bytes.fromhex(doc.pop("secret")),
                base_id=bytes.fromhex(doc.pop("base_id")),
                **doc,
            )
            key._check()
            return key
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, RecursionError):
            raise EpochKeyError("not a blindmatch epoch key file (or a damaged one)") from None

    def _check(self) -> None:
        """ValueError unless every field has its type and range (a key file read back from disk)."""
        ints = (
            self.next_sequence,
            self.not_before,
            self.not_after,
            self.canon_version,
            self.tag_bits,
            self.label_bytes,
            self.evaluations,
        )
        if any(isinstance(v, bool) or not isinstance(v, int) for v in ints):
            raise ValueError("integer fields")
        if (len(self.publisher), len(self.secret), len(self.base_id)) != (32, 32, 16):
            raise ValueError("key lengths")
        if not (
            0 <= self.next_sequence <= 1 << 20
            and 0 <= self.not_before < self.not_after
            and 32 <= self.tag_bits <= 128
            and 0 <= self.label_bytes <= MAX_LABEL_BYTES
            and 1 <= self.evaluations <= 2**50
            and 1 <= self.canon_version <= 255
        ):
            raise ValueError("ranges")
        if not is_epoch_name(self.epoch):
            raise ValueError("epoch")

    def save(self, path: str | Path) -> None:
        """Write the key file with mode 0600 (replacing an earlier version of it)."""
        atomic_write(path, self.to_bytes(), mode=0o600)

    @classmethod
    def load(cls, path: str | Path) -> EpochKey:
        if check_private_file(Path(path), what="epoch key", error=EpochKeyError) is None:
            raise EpochKeyError(f"no epoch key at {path} (destroyed, or never made)")
        return cls.from_bytes(read_capped(path, 64 * 1024, what="epoch key", read_error=EpochKeyError))

    @staticmethod
    def destroy(path: str | Path) -> bool:
        """Overwrite and delete the key file (the epoch's files can no longer be queried)."""
        return wipe_and_remove(path)


def _sealed_kind(
    key: EpochKey,
    kind: str,
    items: list[bytes],
    values: list[str],
    file_id: bytes,
    ftype: str,
    labels: Labels,
    workers: int,
) -> tuple[list[bytes], list[bytes]]:
    """(tags, sealed labels) of one kind's real items, in the items' order."""
    outputs = map_chunked(publisher_outputs, (key.kind_key(kind),), items, workers)
    tags = [tag_of(o, key.tag_bits) for o in outputs]
    if ftype == "withdrawal" or key.label_bytes == 0:
        return tags, [b""] * len(tags)
    empty = check_label({}, key.label_bytes)  # most items carry no label: checked once
    sealed = []
    for value, out in zip(values, outputs, strict=True):
        label = labels.get((kind, value))
        body = empty if label is None else check_label(label, key.label_bytes)
        sealed.append(seal_label(body, key.label_bytes, file_id, kind, out))
    return tags, sealed


def _pad(
    tags: list[bytes], sealed: list[bytes], target: int, bits: int, label_size: int, rng: Rng
) -> tuple[list[bytes], list[bytes]]:
    """Add random dummy tags (never equal to a real one) with random label bytes, sorted by tag."""
    taken = set(tags)
    if len(taken) != len(tags):  # pragma: no cover - a 2^-tag_bits event per pair
        raise InvalidParameter("two items have the same tag: publish with a longer tag")
    nbytes = (bits + 7) // 8
    while len(tags) < target:
        d = bytearray(rng(nbytes))
        d[0] &= (1 << (bits - 8 * (nbytes - 1))) - 1
        if bytes(d) not in taken:
            taken.add(bytes(d))
            tags.append(bytes(d))
            sealed.append(rng(label_size) if label_size else b"")
    order = sorted(range(len(tags)), key=tags.__getitem__)
    return [tags[i] for i in order], [sealed[i] for i in order]


def build_file(
    identity: Identity,
    key: EpochKey,
    indicators: IndicatorItems,
    *,
    ftype: str = "base",
    labels: Labels | None = None,
    padding: str = "pow2",
    rng: Rng = os.urandom,
    clock: Callable[[], float] = time.time,
    workers: int = 1,
) -> tuple[bytes, EpochKey]:
    """A signed file of ``indicators`` and the key with its sequence advanced (save it).

    ``ftype`` "base" (sequence 0: the first file of the epoch), "delta" (items added since) or
    "withdrawal" (items retracted: tags only). ``labels`` maps ``(kind, canonical)`` to a label object.
    """
    if identity.public.raw != key.publisher:
        raise InvalidParameter("the epoch key belongs to another publisher identity")
    if (ftype == "base") != (key.next_sequence == 0) or ftype not in ("base", "delta", "withdrawal"):
        raise InvalidParameter("the first file of an epoch is its base; later ones are deltas or withdrawals")
    if indicators.canon_version != key.canon_version:
        raise InvalidParameter("the indicators' canon version differs from the epoch's")
    if padding not in ("none", "pow2"):
        raise InvalidParameter("padding is none or pow2")
    file_id = rng(16)  # fresh for every file, a rebuilt base too: labels never reuse a (key, nonce) pair
    if ftype == "base":
        key = replace(key, base_id=file_id)
    label_size = 0 if ftype == "withdrawal" or key.label_bytes == 0 else key.label_bytes + 16
    sections: dict[str, tuple[bytes, bytes]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    for kind in indicators.kinds:
        items, values = list(indicators.items_of(kind)), list(indicators.values(kind))
        tags, sealed = _sealed_kind(key, kind, items, values, file_id, ftype, labels or {}, workers)
        target = padded_size(padding, len(tags), _NO_CAP)
        tags, sealed = _pad(tags, sealed, target, key.tag_bits, label_size, rng)
        encoded = encode_tags(tags, key.tag_bits)
        sections[kind] = (encoded, b"".join(sealed))
        kinds[kind] = {"key": key.kind_key(kind).public.hex(), "count": len(tags), "tags_bytes": len(encoded)}
    header = {
        "format": FILE_FORMAT,
        "suite": SUITE_ID.decode(),
        "file_id": file_id.hex(),
        "publisher": key.publisher.hex(),
        "epoch": key.epoch,
        "type": ftype,
        "sequence": key.next_sequence,
        "base": key.base_id.hex(),
        "not_before": key.not_before,
        "not_after": key.not_after,
        "created": int(clock()),
        "canon_version": key.canon_version,
        "tag_bits": key.tag_bits,
        "label_bytes": key.label_bytes,
        "evaluations": key.evaluations,
        "padding": padding,
        "kinds": kinds,
    }
    data = pack_file(header, sections, identity.sign)
    return data, replace(key, next_sequence=key.next_sequence + 1)


def default_tag_bits(n: int, evaluations: int = DEFAULT_EVALUATIONS) -> int:
    """The tag length for ``n`` items (padded) and ``evaluations``: ``ceil(40 + log2(2n * evaluations))``,
    room for deltas to double the set (InvalidParameter above 128 bits: lower ``evaluations``)."""
    return bits_for(2 * max(n, 1), evaluations)
