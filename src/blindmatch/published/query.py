"""The query itself, without a channel: the querier's blinded request and its result, the publisher's
evaluations and proofs. :mod:`blindmatch.published.session` carries them inside an authenticated session.

Request (integers big-endian)::

    1  version (1)
    1  flags (bit 0: verifiable)
    1  number of kinds
    per kind, in sorted order: 1 length || kind (ASCII) || 4 count || count * 32 bytes (blinded points)

Response: per kind of the request, in its order: ``count * 32`` bytes (evaluated points), then, when the
request asked for proofs, a 64-byte proof over that kind's points under the file's key for the kind.
A proof's context is ``transcript hash || base file id || kind``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .._derive import derive_bytes, derive_permutation
from ..errors import InvalidParameter, LocalProtocolError
from ..hazmat import oprf
from ..hazmat._errors import InvalidGroupElement
from ..psi import IndicatorItems
from ..session.padding import DUMMY_PREFIX, padded_size
from .errors import MalformedPublishedFile, MismatchedFiles
from .file import PublishedFile, tag_of
from .labels import Label, open_label

__all__ = [
    "Match",
    "Querier",
    "QueryResult",
    "answer_request",
    "check_file_chain",
    "parse_request",
    "proof_context",
]

_VERSION = 1
#: The false-match bound every file must meet over its life: 2^-40.
SECURITY_BITS = 40
_POINT = 32


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def proof_context(transcript_hash: bytes, base_id: bytes, kind: str) -> bytes:
    return transcript_hash + base_id + kind.encode("ascii")


def check_file_chain(files: Sequence[PublishedFile]) -> None:
    """The files are one epoch's base then its later files, in sequence order, from one publisher, with
    one key per kind; else :class:`MismatchedFiles`."""
    if not files or files[0].type != "base":
        raise MismatchedFiles("the first file must be the epoch's base file")
    base = files[0]
    keys: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for i, f in enumerate(files):
        h = f.header
        if f.publisher != base.publisher or f.epoch != base.epoch or f.base_id != base.file_id:
            raise MismatchedFiles("a file belongs to another publisher, epoch or base file")
        if f.sequence != i:
            raise MismatchedFiles(f"file sequence numbers must run 0, 1, 2, ... (found {f.sequence} at {i})")
        for member in ("tag_bits", "label_bytes", "canon_version", "evaluations", "suite"):
            if h[member] != base.header[member]:
                raise MismatchedFiles(f"a later file changes the epoch's {member}")
        for kind, sec in f.kinds.items():
            if keys.setdefault(kind, sec.key) != sec.key:
                raise MismatchedFiles(f"two files of one epoch give kind {kind!r} different keys")
            if f.type != "withdrawal":
                counts[kind] = counts.get(kind, 0) + sec.count
    _check_bound(base, max(counts.values(), default=0))


def _check_bound(base: PublishedFile, n: int) -> None:
    """The false-match bound the library promises (``n * Q / 2^t <= 2^-40``, ``n`` the most tags a query
    of one kind is compared with) must hold for the file's own ``evaluations`` (``Q``) and ``tag_bits``."""
    bits, q = base.tag_bits, base.header["evaluations"]
    if n and bits < SECURITY_BITS + math.log2(n * q):
        raise MalformedPublishedFile(
            f"the file's {bits}-bit tags are too short for {n} items and {q} evaluations "
            f"(at least {math.ceil(SECURITY_BITS + math.log2(n * q))} bits keep false matches under 2^-40)"
        )


def _pack_request(blinded: Mapping[str, list[bytes]], verifiable: bool) -> bytes:
    parts = [bytes([_VERSION, 1 if verifiable else 0, len(blinded)])]
    for kind in sorted(blinded):
        k = kind.encode("ascii")
        parts += [bytes([len(k)]), k, len(blinded[kind]).to_bytes(4, "big"), *blinded[kind]]
    return b"".join(parts)


def parse_request(data: bytes, declared: Mapping[str, int]) -> tuple[dict[str, list[bytes]], bool]:
    """The blinded points per kind and the verifiable flag; the kinds and counts must be ``declared``
    (the ones the session's hello named and the budget charged). Raises :class:`MalformedPublishedFile`."""
    bad = MalformedPublishedFile
    if len(data) < 3 or data[0] != _VERSION or data[1] not in (0, 1):
        raise bad("the query request's version or flags are unknown")
    nkinds, pos, out = data[2], 3, {}
    for _ in range(nkinds):
        if pos >= len(data):
            raise bad("the query request is truncated")
        klen = data[pos]
        kind = data[pos + 1 : pos + 1 + klen].decode("ascii", errors="replace")
        pos += 1 + klen
        count = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        if kind in out or declared.get(kind) != count:
            raise bad("the query request's kinds or counts differ from the ones declared")
        end = pos + count * _POINT
        if end > len(data):
            raise bad("the query request is truncated")
        out[kind] = [data[i : i + _POINT] for i in range(pos, end, _POINT)]
        pos = end
    if pos != len(data) or set(out) != set(declared):
        raise bad("the query request's kinds differ from the ones declared, or it has trailing bytes")
    return out, data[1] == 1


def answer_request(
    keys: Mapping[str, oprf.KindKey],
    blinded: Mapping[str, list[bytes]],
    verifiable: bool,
    context: bytes,
    seed: bytes,
) -> bytes:
    """The publisher's response: every point times its kind's key (and proofs). ``context`` is the
    transcript hash and base id (the kind is appended per proof). Invalid points raise InvalidGroupElement."""
    parts: list[bytes] = []
    for i, kind in enumerate(sorted(blinded)):
        key = keys.get(kind)
        if key is None:
            raise MalformedPublishedFile(f"the query names kind {kind!r}, which the file does not hold")
        evaluated = oprf.evaluate(key, blinded[kind])
        parts += evaluated
        if verifiable and evaluated:
            parts.append(oprf.prove(key, blinded[kind], evaluated, context + kind.encode("ascii"), seed, i))
    return b"".join(parts)


@dataclass(frozen=True)
class Match:
    """One of the querier's indicators found in the published set, with its label and the file (sequence
    number) it came from."""

    kind: str
    value: str
    label: Label
    sequence: int


@dataclass(frozen=True)
class QueryResult:
    """What a query found: ``matches`` (indicators in the set now, with labels), ``withdrawn`` (found in an
    earlier file of the epoch, retracted by a later one), ``unopened`` (tag matches whose label did not
    open: a false tag match or a damaged file), and ``outputs``, the OPRF outputs by ``(kind, value)``, kept
    to re-check later files of the same epoch without a new query (:meth:`Querier.recheck`)."""

    matches: tuple[Match, ...]
    withdrawn: tuple[tuple[str, str], ...]
    unopened: int
    queried: Mapping[str, int]
    outputs: Mapping[tuple[str, str], bytes] = field(repr=False)


def match_outputs(files: Sequence[PublishedFile], outputs: Mapping[tuple[str, str], bytes]) -> QueryResult:
    """Look up each output's tag in every file, in sequence order: a delta adds, a withdrawal removes."""
    check_file_chain(files)
    bits = files[0].tag_bits
    found: dict[tuple[str, str], Match | None] = {}
    unopened = 0
    by_kind: dict[str, tuple[list[tuple[str, str]], list[bytes]]] = {}  # each output's tag, once
    for k, out in outputs.items():
        keys, tags = by_kind.setdefault(k[0], ([], []))
        keys.append(k)
        tags.append(tag_of(out, bits))
    for f in files:
        for kind, sec in f.kinds.items():
            if kind not in by_kind:
                continue
            keys, tags = by_kind[kind]
            ranks = sec.tags.find(tags)
            for k, rank in zip(keys, ranks, strict=True):
                if rank is None:
                    continue
                if f.type == "withdrawal":
                    if found.get(k) is not None:
                        found[k] = None
                    continue
                label: Label = {}
                if f.label_bytes:
                    try:
                        label = open_label(sec.label(rank, f.label_bytes), f.file_id, kind, outputs[k])
                    except MalformedPublishedFile:
                        unopened += 1
                        continue
                found[k] = Match(kind, k[1], label, f.sequence)
    matches = tuple(sorted((m for m in found.values() if m is not None), key=lambda m: (m.kind, m.value)))
    withdrawn = tuple(sorted(k for k, m in found.items() if m is None))
    counts: dict[str, int] = {}
    for kind, _ in outputs:
        counts[kind] = counts.get(kind, 0) + 1
    return QueryResult(matches, withdrawn, unopened, counts, dict(outputs))


class Querier:
    """The querier's half of one query over ``files`` (the epoch's base, then its later files). Single use:
    :meth:`request` once, then :meth:`finish` with the publisher's response.

    Only the indicators of kinds the files hold are queried, in an order shuffled from ``seed`` (32 bytes,
    which also gives the blinds). ``padding="pow2"`` adds dummy items up to a power of two per kind, so
    the publisher learns each count within 2x (dummies cost budget like real items).
    """

    def __init__(
        self,
        files: Sequence[PublishedFile],
        indicators: IndicatorItems,
        *,
        seed: bytes,
        verifiable: bool = True,
        padding: str = "none",
    ) -> None:
        check_file_chain(files)
        if indicators.canon_version != files[0].header["canon_version"]:
            raise InvalidParameter(
                f"the indicators are canon version {indicators.canon_version}, the file's is "
                f"{files[0].header['canon_version']}"
            )
        self._files = list(files)
        self._keys = {k: s.key for f in files for k, s in f.kinds.items()}
        self._kinds = sorted(k for k in indicators.kinds if k in self._keys and indicators.items_of(k))
        if padding not in ("none", "pow2"):
            raise InvalidParameter("padding is none or pow2")
        self._items: dict[str, list[bytes]] = {}
        self._values: dict[str, list[str | None]] = {}
        for i, kind in enumerate(self._kinds):  # dummies to the padded count, then one shuffle per kind
            items: list[bytes] = list(indicators.items_of(kind))
            values: list[str | None] = list(indicators.values(kind))
            extra = padded_size(padding, len(items), 1 << 30) - len(items)
            items += [DUMMY_PREFIX + d for d in _chunks(derive_bytes(seed, b"query dummies", 32 * extra, i))]
            values += [None] * extra
            order = derive_permutation(seed, b"query order", len(items), i)
            self._items[kind] = [items[j] for j in order]
            self._values[kind] = [values[j] for j in order]
        self._seed = seed
        self.verifiable = verifiable
        self._blinds: dict[str, tuple[list[bytes], list[int]]] | None = None
        self._done = False

    @property
    def counts(self) -> dict[str, int]:
        """How many items of each kind the query asks about (what the publisher is told)."""
        return {k: len(v) for k, v in self._items.items()}

    def request(self) -> bytes:
        if self._blinds is not None:
            raise LocalProtocolError("request() is called once")
        self._blinds = {k: oprf.blind(self._items[k], self._seed, i) for i, k in enumerate(self._kinds)}
        return _pack_request({k: b for k, (b, _) in self._blinds.items()}, self.verifiable)

    def finish(self, response: bytes, context: bytes) -> QueryResult:
        """Check (and, when verifiable, verify the proofs of) the response; the result."""
        if self._blinds is None or self._done:
            raise LocalProtocolError("finish() comes once, after request()")
        self._done = True
        per_proof = oprf.PROOF_BYTES if self.verifiable else 0
        expected = sum(len(b) * _POINT + (per_proof if b else 0) for b, _ in self._blinds.values())
        if len(response) != expected:
            raise InvalidGroupElement(
                f"the publisher's response is {len(response)} bytes, expected {expected}"
            )
        outputs: dict[tuple[str, str], bytes] = {}
        pos = 0
        for kind in self._kinds:
            blinded, rs = self._blinds[kind]
            n = len(blinded)
            evaluated = [response[pos + _POINT * i : pos + _POINT * (i + 1)] for i in range(n)]
            pos += n * _POINT
            if self.verifiable and n:
                ctx = context + kind.encode("ascii")
                oprf.verify(self._keys[kind], blinded, evaluated, ctx, response[pos : pos + per_proof])
                pos += per_proof
            points = oprf.unblind(evaluated, rs)
            for value, out in zip(
                self._values[kind], oprf.finalize_many(self._items[kind], points), strict=True
            ):
                if value is not None:  # a dummy's answer is dropped
                    outputs[(kind, value)] = out
        return match_outputs(self._files, outputs)

    @staticmethod
    def recheck(files: Sequence[PublishedFile], outputs: Mapping[tuple[str, str], bytes]) -> QueryResult:
        """Re-check saved outputs against the epoch's files as they are now (no new evaluation)."""
        return match_outputs(files, outputs)
