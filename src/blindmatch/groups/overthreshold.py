"""Over-threshold matching for n labs (docs/groups.md): a DH ring gives every lab the same ``F(x)``, each
hop's key checked by a chained DLEQ proof and the owner's secret linear check; Shamir-style shares with
``P(0) = 0`` per bin; a coordinator without keys finds the sets of ``t`` labs whose shares agree. In memory
and sans-I/O: the transport (and the forum's policy) wrap it.

A run::

    labs = [RingLab(i, items_i, params, seed=...) for i in range(1, n + 1)]
    hop = lab.start()                                     # each list leaves its owner blinded
    for steps in 1..n-1: hop = labs[owner + steps].apply(hop)   # every other lab applies its key
    lab.finish(hop)                                       # back home, checked: F(x) for its own items
    uploads = {i: lab.shares() for ...}
    passed = coordinate(params, uploads)                  # {lab index: slots that passed}
    lab.results(passed[i])                                # its items held by at least t labs
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from .._derive import derive_bytes, derive_key, derive_permutation
from ..errors import InvalidParameter, LocalProtocolError, RemoteError, RemoteProtocolError
from ..hazmat import oprf
from ..hazmat._ed25519 import ORDER, add_points, base_mul, mul_each, mul_many, reduce64, scalar_bytes
from ..hazmat.group import hash_to_edwards
from ..psi._items import distinct_items
from ..session.padding import DUMMY_PREFIX
from ._join import slot_choices

__all__ = [
    "FIELD",
    "TAG_LIMIT",
    "Hop",
    "OverThresholdError",
    "RingLab",
    "RunParams",
    "Share",
    "bins_and_slots",
    "coordinate",
    "run_in_memory",
]

#: The share field: GF(2^255 - 19).
FIELD = 2**255 - 19
#: Tags are 128 bits.
TAG_LIMIT = 1 << 128
#: One slot of an upload: ``(P(i), R(i), tag)``.
Share = tuple[int, int, int]
_DST = b"blindmatch-groups-v1/overthreshold"


class OverThresholdError(RemoteProtocolError):
    """A peer's hop or upload is malformed, out of place, or fails its proof."""


def _binom_tail(n: int, q: float, m: int) -> float:
    """P(Binomial(n, q) > m), summed in logs."""
    total = 0.0
    for k in range(m + 1, min(n, m + 400) + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        log_term += k * math.log(q) + (n - k) * math.log1p(-q)
        total += math.exp(log_term)
    return total


#: Items per bin on average, by threshold: the coordinator's join costs about ``B * m^(t-1)`` per set of
#: ``t`` labs and the uploads ``B * m`` shares, so ``t = 2`` takes few large bins (uploads 1.5x the items),
#: ``t = 3`` middling ones and larger ``t`` small ones (docs/groups.md, "Bins and slots").
_LOAD = {2: 256, 3: 16}
_LOAD_ABOVE = 4


@functools.lru_cache(maxsize=64)
def bins_and_slots(n_items: int, n_labs: int, t: int) -> tuple[int, int]:
    """``(B, m)``: ``B = ceil(N / load(t))`` bins, and the fewest slots ``m`` such that a lab's bin overflows
    with probability at most ``2^-40 / (n_labs * B)`` (so no overflow anywhere in the run, but 2^-40)."""
    if n_items < 1 or n_labs < 2 or not 2 <= t <= n_labs:
        raise InvalidParameter("at least one item, two labs, and 2 <= t <= n")
    bins = max(1, math.ceil(n_items / _LOAD.get(t, _LOAD_ABOVE)))
    target = 2.0**-40 / (n_labs * bins)
    m = 1
    while bins > 1 and _binom_tail(n_items, 1 / bins, m) > target:
        m += 1
    return bins, (n_items if bins == 1 else m)


@dataclass(frozen=True)
class RunParams:
    """One run's public parameters: the labs' indices ``1..n`` in ring order, ``t``, the padded list size
    ``n_items``, the round id, and each lab's published round key ``K_j`` (filled by :meth:`with_keys`)."""

    n: int
    t: int
    n_items: int
    round_id: bytes
    keys: Mapping[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (self.n, self.t, self.n_items)):
            raise InvalidParameter("n, t and n_items are integers")
        if self.n_items < 1:
            raise InvalidParameter("n_items is at least 1")
        if not 2 <= self.t <= self.n or self.n > 64:
            raise InvalidParameter("2 <= t <= n <= 64")
        if not isinstance(self.round_id, bytes) or len(self.round_id) != 16:
            raise InvalidParameter("round_id is 16 bytes")

    @property
    def bins(self) -> tuple[int, int]:
        return bins_and_slots(self.n_items, self.n, self.t)

    def with_keys(self, keys: Mapping[int, bytes]) -> RunParams:
        if set(keys) != set(range(1, self.n + 1)):
            raise InvalidParameter("one round key per lab")
        return RunParams(self.n, self.t, self.n_items, self.round_id, dict(keys))

    def dst(self) -> bytes:
        return _DST + b" HashToGroup " + self.round_id.hex().encode()


@dataclass(frozen=True)
class Hop:
    """A list on its way round the ring: whose it is, its points, and the chain of check values.

    ``chain[0]`` is the owner's check value ``M = sum(d_i * A_i)`` over the list it sent (the ``d_i`` are the
    owner's secret); ``chain[j]`` is ``k * chain[j-1]`` for the key of the ``j``-th lab after the owner, and
    ``proofs[j-1]`` its DLEQ proof against that lab's published round key. Back home, the owner checks
    ``sum(d_i * B_i) == chain[-1]`` over the list it got back (docs/groups.md, "the ring's check")."""

    owner: int
    points: tuple[bytes, ...]
    chain: tuple[bytes, ...]
    proofs: tuple[bytes, ...] = ()

    def by(self, n: int) -> int:
        """The lab that produced this hop (the owner for a list just sent)."""
        return _ring_at(self.owner, len(self.proofs), n)


def _check_hop(hop: object, params: RunParams) -> Hop:
    """A hop from a peer, checked for shape before anything reads it: an owner of the run, ``N`` points of
    32 bytes, check values of 32 bytes, one proof of 64 bytes per hop so far (fewer than ``n``)."""
    if not isinstance(hop, Hop):
        raise OverThresholdError("a hop is not a Hop")
    owner = hop.owner
    if isinstance(owner, bool) or not isinstance(owner, int) or not 1 <= owner <= params.n:
        raise OverThresholdError("a hop's owner is not a lab of the run")
    for part, size in ((hop.points, 32), (hop.chain, 32), (hop.proofs, oprf.PROOF_BYTES)):
        if not isinstance(part, tuple) or not all(isinstance(v, bytes) and len(v) == size for v in part):
            raise OverThresholdError("a hop's points, check values and proofs are tuples of 32, 32, 64 bytes")
    if len(hop.points) != params.n_items:
        raise OverThresholdError("a hop of the wrong size")
    if len(hop.chain) != len(hop.proofs) + 1 or len(hop.proofs) >= params.n:
        raise OverThresholdError("a hop's check values do not match its proofs")
    return hop


def _ring_at(owner: int, steps: int, n: int) -> int:
    """The lab ``steps`` places after ``owner`` in ring order (indices ``1..n``)."""
    return (owner - 1 + steps) % n + 1


class RingLab:
    """One lab of a run: index ``index`` (1..n), its distinct ``items`` (at most ``params.n_items``; padded
    with random dummies to exactly that), a 32-byte ``seed`` for every random choice of the run."""

    def __init__(self, index: int, items: Iterable[bytes], params: RunParams, *, seed: bytes) -> None:
        if not 1 <= index <= params.n:
            raise InvalidParameter("index is 1..n")
        own = distinct_items(items)
        if any(x.startswith(DUMMY_PREFIX) for x in own):
            raise InvalidParameter("an item starts with the reserved dummy prefix")
        if len(own) > params.n_items:
            raise InvalidParameter(f"{len(own)} items exceed the run's {params.n_items}")
        self.index, self.params = index, params
        # every run parameter in the context: one seed never gives the same key, scalars or check
        # coefficients to two runs that differ in anything (a run id reused with another n, t or N)
        terms = b"".join(v.to_bytes(4, "big") for v in (params.n, params.t, params.n_items))
        self._seed = derive_key(seed, b"groups run seed", index, params.round_id + terms)
        extra = params.n_items - len(own)
        dummies = derive_bytes(self._seed, b"groups dummies", 32 * extra)
        padded = own + [DUMMY_PREFIX + dummies[32 * i : 32 * i + 32] for i in range(extra)]
        order = derive_permutation(self._seed, b"groups order", len(padded))
        self._items = [padded[j] for j in order]
        self._real = len(own)
        self._key = reduce64(derive_bytes(self._seed, b"groups round key", 64)) or 1
        self.public_key = base_mul(scalar_bytes(self._key))
        self._check: bytes | None = None
        self._f: list[bytes] | None = None
        self._slots: dict[int, int] | None = None
        self._applied: dict[int, Hop] = {}
        self._failed = False

    def __repr__(self) -> str:
        return f"RingLab(index={self.index}, n={self.params.n}, t={self.params.t})"

    def _coefficients(self) -> list[bytes]:
        """The secret check coefficients ``d_i`` (uniform mod L) for our own list."""
        wide = derive_bytes(self._seed, b"groups check coefficients", 64 * self.params.n_items)
        return [scalar_bytes(reduce64(wide[64 * i : 64 * i + 64])) for i in range(self.params.n_items)]

    def start(self) -> Hop:
        """Our list, blinded with a one-time scalar, leaving home with its check value."""
        if self._check is not None:
            raise LocalProtocolError("start() is called once")
        r = reduce64(derive_bytes(self._seed, b"groups one-time scalar", 64)) or 1
        self._r = r
        points = mul_many(scalar_bytes(r), hash_to_edwards(self._items, self.params.dst()), "our items")
        self._check = add_points(mul_each(self._coefficients(), points, "our items"))
        return Hop(self.index, tuple(points), (self._check,))

    def _context(self, owner: int, by: int) -> bytes:
        return self.params.round_id + bytes([owner, by])

    def _verify_chain(self, hop: Hop) -> None:
        """Every hop's proof that it moved the check value on with its published key."""
        n = self.params.n
        for j, proof in enumerate(hop.proofs, start=1):
            by = _ring_at(hop.owner, j, n)
            key = self.params.keys.get(by)
            if key is None:
                raise OverThresholdError("a hop by a lab that is not in the run")
            try:
                oprf.verify(key, [hop.chain[j - 1]], [hop.chain[j]], self._context(hop.owner, by), proof)
            except oprf.InvalidProof as exc:
                raise OverThresholdError(f"lab {by} applied another key than its published one") from exc

    def apply(self, hop: Hop) -> Hop:
        """Another lab's list: check the chain so far, apply our key to the list and the check value, prove
        the latter."""
        n = self.params.n
        hop = _check_hop(hop, self.params)
        if hop.owner == self.index or _ring_at(hop.owner, len(hop.proofs) + 1, n) != self.index:
            raise OverThresholdError("a hop out of ring order")
        if hop.owner in self._applied:
            # one list per owner and run: else an owner sends more lists round the ring, F of any number of
            # guesses (docs/groups.md: a lab's guesses are bounded by N)
            if self._applied[hop.owner] == hop:
                raise LocalProtocolError("apply() comes once per list")
            raise OverThresholdError(f"a second list from lab {hop.owner} in one run")
        self._verify_chain(hop)
        key = oprf.KindKey(b"", scalar_bytes(self._key), self.public_key)
        out = oprf.evaluate(key, list(hop.points))
        z = oprf.evaluate(key, [hop.chain[-1]])
        proof = oprf.prove(
            key, [hop.chain[-1]], z, self._context(hop.owner, self.index), self._seed, hop.owner
        )
        self._applied[hop.owner] = hop
        return Hop(hop.owner, tuple(out), (*hop.chain, z[0]), (*hop.proofs, proof))

    def finish(self, hop: Hop) -> None:
        """Our list back home: check the chain and ``sum(d_i * B_i)``, remove the one-time scalar, apply our
        key: ``F(x)``."""
        if self._check is None or self._f is not None or self._failed:
            raise LocalProtocolError("finish() comes once, after start(), and not after it failed")
        try:
            self._f = self._finish(hop, self._check)
        except RemoteError:
            # the run is aborted: the owner may publish d for blame, after which a second hop could be
            # forged to pass the check
            self._failed = True
            raise

    def _finish(self, hop: Hop, check: bytes) -> list[bytes]:
        n = self.params.n
        hop = _check_hop(hop, self.params)
        if hop.owner != self.index or len(hop.proofs) != n - 1:
            raise OverThresholdError("our list came back out of ring order")
        if not hmac.compare_digest(hop.chain[0], check):
            raise OverThresholdError("our list came back with another check value than we sent")
        self._verify_chain(hop)
        got = add_points(mul_each(self._coefficients(), list(hop.points), "our list"))
        if not hmac.compare_digest(got, hop.chain[-1]):
            raise OverThresholdError(
                "our list came back altered: a lab applied another key to some items than to the check value"
            )
        unblind = pow(self._r, -1, ORDER) * self._key % ORDER
        return mul_many(scalar_bytes(unblind), list(hop.points), "our list")

    def shares(self) -> list[list[Share]]:
        """``B`` bins of ``m`` slots: our share ``(P(i), R(i), tag(R(0), i))`` of each item (``i`` our index),
        then random padding, shuffled."""
        if self._f is None:
            raise LocalProtocolError("shares() comes after finish()")
        bins, m = self.params.bins
        table: list[list[tuple[Share, int]]] = [[] for _ in range(bins)]
        for pos, f in enumerate(self._f):
            b, coefs, tag_coefs = _poly(f, bins, self.params.t)
            i = self.index
            share = (_eval(coefs, i), (tag_coefs[0] + _eval(tag_coefs[1:], i)) % FIELD, _tag(tag_coefs[0], i))
            table[b].append((share, pos))
        out: list[list[Share]] = []
        self._slots = {}
        for b, entries in enumerate(table):
            if len(entries) > m:
                raise LocalProtocolError("a bin overflowed (probability below 2^-40): abort the run")
            pad = derive_bytes(self._seed, b"groups bin padding", 80 * (m - len(entries)), b)
            entries += [(_random_share(pad[80 * k : 80 * k + 80]), -1) for k in range(m - len(entries))]
            order = derive_permutation(self._seed, b"groups slot order", m, b)
            row = [entries[j] for j in order]
            for slot, (_, pos) in enumerate(row):
                if pos >= 0:
                    self._slots[b * m + slot] = pos
            out.append([share for share, _ in row])
        return out

    def results(self, passed: Iterable[int]) -> list[bytes]:
        """Our real items that the coordinator found held by at least ``t`` labs."""
        if self._slots is None:
            raise LocalProtocolError("results() comes after shares()")
        bins, m = self.params.bins
        if not isinstance(passed, set | frozenset | list | tuple) or not all(
            not isinstance(s, bool) and isinstance(s, int) and 0 <= s < bins * m for s in passed
        ):
            raise OverThresholdError("the coordinator's answer names slots that do not exist")
        got = {self._items[self._slots[s]] for s in passed if s in self._slots}
        return sorted(x for x in got if not x.startswith(DUMMY_PREFIX))


def _field(label: bytes, f: bytes) -> int:
    return int.from_bytes(hashlib.sha512(_DST + label + f).digest(), "little") % FIELD


def _poly(f: bytes, bins: int, t: int) -> tuple[int, list[int], list[int]]:
    """From ``F(x)``: the bin; ``P``'s coefficients ``a_1..a_{t-1}`` (``P(0) = 0``); ``R``'s ``r_0..r_{t-1}``
    (``R(0)`` the item's tag secret, which only ``t`` shares reveal)."""
    h = hashlib.sha512(_DST + b" bin" + f).digest()
    coefs = [_field(b" coef" + bytes([j]), f) for j in range(1, t)]
    tag_coefs = [_field(b" tag coef" + bytes([j]), f) for j in range(t)]
    return int.from_bytes(h, "little") % bins, coefs, tag_coefs


def _eval(coefs: Sequence[int], x: int) -> int:
    """``a_1 x + ... + a_{t-1} x^{t-1}`` (no constant term) mod the field."""
    acc = 0
    for a in reversed(coefs):
        acc = (acc + a) * x % FIELD
    return acc


def _tag(secret: int, index: int) -> int:
    """Lab ``index``'s 128-bit tag of an item whose tag secret is ``secret``."""
    digest = hashlib.sha512(
        _DST + b" tag" + secret.to_bytes(32, "little") + index.to_bytes(2, "big")
    ).digest()
    return int.from_bytes(digest[:16], "little")


def _random_share(pad: bytes) -> Share:
    return (
        int.from_bytes(pad[:32], "little") % FIELD,
        int.from_bytes(pad[32:64], "little") % FIELD,
        int.from_bytes(pad[64:80], "little"),
    )


def _lagrange_at_zero(xs: Sequence[int]) -> list[int]:
    out = []
    for i, xi in enumerate(xs):
        num = den = 1
        for j, xj in enumerate(xs):
            if i != j:
                num = num * (-xj) % FIELD
                den = den * (xi - xj) % FIELD
        out.append(num * pow(den, -1, FIELD) % FIELD)
    return out


def _check_upload(params: RunParams, upload: object) -> list[list[Share]]:
    bins, m = params.bins
    if not isinstance(upload, list) or len(upload) != bins:
        raise OverThresholdError(f"an upload has {bins} bins of {m} slots")
    for row in upload:
        if not isinstance(row, list) or len(row) != m:
            raise OverThresholdError(f"an upload has {bins} bins of {m} slots")
        for share in row:
            if not isinstance(share, tuple) or len(share) != 3:
                raise OverThresholdError("a slot holds a share, its tag share and its tag")
            if not all(not isinstance(v, bool) and isinstance(v, int) for v in share):
                raise OverThresholdError("a share is not a field element")
            y, r, w = share
            if not (0 <= y < FIELD and 0 <= r < FIELD and 0 <= w < TAG_LIMIT):
                raise OverThresholdError("a share is not a field element (or a tag not 128 bits)")
    return upload


def coordinate(params: RunParams, uploads: Mapping[int, object]) -> dict[int, set[int]]:
    """The coordinator's pass: ``{lab: slot numbers (bin * m + slot) that took part in a passing set}``.

    A set of ``t`` slots (one per lab) passes when their ``P`` shares reconstruct ``P(0) = 0`` and every
    slot's tag is the tag, for its lab, of the tag secret their ``R`` shares reconstruct.
    ``uploads[j]`` must come from lab ``j`` over its authenticated channel (its index is its x-coordinate).
    """
    if not isinstance(uploads, Mapping) or any(
        isinstance(j, bool) or not isinstance(j, int) for j in uploads
    ):
        raise InvalidParameter("uploads map each lab's index (an int) to its upload")
    if set(uploads) != set(range(1, params.n + 1)):
        raise OverThresholdError("one upload from every lab of the run")
    rows = {j: _check_upload(params, u) for j, u in uploads.items()}
    bins, m = params.bins
    passed: dict[int, set[int]] = {j: set() for j in rows}
    for labs in combinations(sorted(rows), params.t):
        lam = _lagrange_at_zero(labs)
        last_inv = pow(lam[-1], -1, FIELD)
        for b in range(bins):
            index: dict[int, list[int]] = {}
            for s, share in enumerate(rows[labs[-1]][b]):
                index.setdefault(share[0], []).append(s)
            for choice in _join(labs, lam, last_inv, rows, b, m, index):
                if _tags_agree(labs, lam, [rows[j][b][s] for j, s in zip(labs, choice, strict=True)]):
                    for j, s in zip(labs, choice, strict=True):
                        passed[j].add(b * m + s)
    return passed


def _tags_agree(labs: Sequence[int], lam: Sequence[int], shares: Sequence[Share]) -> bool:
    """Whether the slots' ``R`` shares give a tag secret whose tag for each lab is that slot's tag."""
    secret = sum(k * share[1] for k, share in zip(lam, shares, strict=True)) % FIELD
    return all(_tag(secret, j) == share[2] for j, share in zip(labs, shares, strict=True))


def _join(
    labs: Sequence[int],
    lam: Sequence[int],
    last_inv: int,
    rows: Mapping[int, list[list[Share]]],
    b: int,
    m: int,
    index: Mapping[int, list[int]],
) -> Iterable[tuple[int, ...]]:
    """Every choice of one slot per lab but the last whose ``P`` shares, with a share of the last lab,
    make the Lagrange sum at 0 vanish (``groups._join``)."""
    cols = [
        [(-lam[k] * rows[j][b][s][0] * last_inv) % FIELD for s in range(m)] for k, j in enumerate(labs[:-1])
    ]
    return slot_choices(cols, index, FIELD)


def run_in_memory(
    sets: Sequence[Iterable[bytes]],
    t: int,
    *,
    n_items: int | None = None,
    round_id: bytes = bytes(16),
    seeds: Sequence[bytes] | None = None,
) -> list[list[bytes]]:
    """A whole run among ``len(sets)`` labs in one process (tests, benchmarks): each lab's items held by at
    least ``t`` labs."""
    lists = [list(dict.fromkeys(s)) for s in sets]
    n = len(lists)
    size = n_items if n_items is not None else max(1, max(len(x) for x in lists))
    params = RunParams(n, t, size, round_id)
    seeds = seeds or [hashlib.sha256(bytes([i])).digest() for i in range(n)]
    labs = {i + 1: RingLab(i + 1, lists[i], params, seed=seeds[i]) for i in range(n)}
    params = params.with_keys({i: lab.public_key for i, lab in labs.items()})
    for lab in labs.values():
        lab.params = params
    for i, lab in labs.items():
        hop = lab.start()
        for steps in range(1, n):
            hop = labs[_ring_at(i, steps, n)].apply(hop)
        lab.finish(hop)
    passed = coordinate(params, {i: lab.shares() for i, lab in labs.items()})
    return [labs[i].results(passed[i]) for i in range(1, n + 1)]
