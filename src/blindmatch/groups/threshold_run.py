"""An over-threshold run as sans-I/O parties (docs/groups.md, "Running it"): each lab and the coordinator
take messages (bytes) in and give messages out; a transport (``groups.dropbox``, or anything that carries
bytes) moves them. Every lab's message goes to the coordinator, which relays it unchanged to its recipient
(the ring's next lab, or every lab for round keys), collects the uploads, runs the join and sends each lab
its result, signed.

Before anything is computed, :meth:`ThresholdTerms.check_policy` holds the run to the forum's signed policy:
every lab a member (not revoked), the kinds, the size cap and the threshold within it.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import InvalidParameter, LocalProtocolError
from ..session.identity import Identity, PublicIdentity
from . import threshold_wire as wire
from .forum_policy import ForumPolicy, RunOutsidePolicy
from .overthreshold import Hop, OverThresholdError, RingLab, RunParams, Share, bins_and_slots, coordinate
from .overthreshold import _ring_at as ring_at

__all__ = ["ThresholdCoordinator", "ThresholdLab", "ThresholdTerms", "run_threshold_in_memory"]

#: Outgoing messages: ``(recipient, bytes)``; recipient 0 is the coordinator.
Outgoing = list[tuple[int, bytes]]


@dataclass(frozen=True)
class ThresholdTerms:
    """A run's public terms, agreed through the forum: the 16-byte ``round_id``, the labs in ring order
    (``(name, identity key)``; lab ``i`` is ``labs[i - 1]``), ``t``, the padded list size ``n_items``, the
    ``kinds`` the lists hold, and the ``coordinator``'s key (the forum's)."""

    round_id: bytes
    labs: tuple[tuple[str, PublicIdentity], ...]
    t: int
    n_items: int
    kinds: tuple[str, ...]
    coordinator: PublicIdentity

    def __post_init__(self) -> None:
        if not isinstance(self.round_id, bytes) or len(self.round_id) != 16:
            raise InvalidParameter("round_id is 16 bytes")
        keys = [k for _, k in self.labs]
        if len({n for n, _ in self.labs}) != len(self.labs) or len(set(keys)) != len(keys):
            raise InvalidParameter("every lab of a run has its own name and key")
        if self.coordinator in keys:
            raise InvalidParameter("the coordinator is not one of the labs")
        RunParams(len(self.labs), self.t, self.n_items, self.round_id)
        if not 1 <= self.n_items <= 1 << 24:
            raise InvalidParameter("n_items is 1..2^24")

    @property
    def n(self) -> int:
        return len(self.labs)

    def index_of(self, key: PublicIdentity) -> int:
        for i, (_, k) in enumerate(self.labs, start=1):
            if k == key:
                return i
        raise InvalidParameter(f"the key {key.fingerprint} is not one of this run's labs")

    def params(self) -> RunParams:
        return RunParams(self.n, self.t, self.n_items, self.round_id)

    def check_policy(self, policy: ForumPolicy, now: float) -> None:
        """Refuse a run outside ``policy`` (typed errors from ``forum_policy``): every lab a member under its
        own name and not revoked at ``now``, the coordinator the forum itself, the kinds, ``n_items`` (the
        lists are padded to exactly that: rule ``cap``) and ``t`` allowed."""
        policy.check_valid_at(now)
        if self.coordinator != policy.forum_key:
            raise RunOutsidePolicy("coordinator", f"the coordinator is not forum {policy.forum}'s key")
        for name, key in self.labs:
            member = policy.check_member(key, now)
            if member != name:
                raise RunOutsidePolicy("labs", f"lab {name!r} uses the key of member {member!r}")
        policy.check_run(self.kinds, self.n_items, "cap", self.t)

    def key_of(self, sender: int) -> PublicIdentity:
        if sender == wire.COORDINATOR:
            return self.coordinator
        if not 1 <= sender <= self.n:
            raise wire.UnauthenticatedMessage(f"a message from party {sender}, not in the run")
        return self.labs[sender - 1][1]


class ThresholdLab:
    """One lab's side of a run. ``start()`` gives its first messages; ``receive(data)`` takes each message
    the coordinator delivers and gives the messages to send; ``results`` (our items held by at least ``t``
    labs) is set once the coordinator's result arrives. Single use; a bad message raises a remote error
    and ends the party."""

    def __init__(
        self,
        terms: ThresholdTerms,
        identity: Identity,
        items: Iterable[bytes],
        *,
        seed: bytes | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.terms, self._identity = terms, identity
        self.index = terms.index_of(identity.public)
        self._lab = RingLab(self.index, items, terms.params(), seed=seed if seed is not None else rng(32))
        self._keys: dict[int, bytes] = {self.index: self._lab.public_key}
        self._early: list[wire.Message] = []
        self._seen_hops: set[int] = set()
        self._early_result: wire.Message | None = None
        self._state = "new"
        self.results: list[bytes] | None = None

    def __repr__(self) -> str:
        return f"ThresholdLab(index={self.index}, n={self.terms.n}, state={self._state})"

    @property
    def done(self) -> bool:
        return self._state == "done"

    def waiting_for(self) -> str:
        """What the lab waits for, in words (to name a dropout)."""
        names = dict(enumerate((name for name, _ in self.terms.labs), start=1))
        if self._state == "keys":
            return "round keys of " + ", ".join(names[j] for j in names if j not in self._keys)
        if self._state == "ring":
            return "the lists of " + ", ".join(names[j] for j in names if j not in self._seen_hops)
        if self._state == "uploaded":
            return "the coordinator's result (it waits for every lab's upload)"
        return f"nothing (state {self._state})"

    def _send(self, kind: int, recipient: int, body: bytes) -> tuple[int, bytes]:
        msg = wire.encode(self._identity, kind, self.terms.round_id, self.index, recipient, body)
        return wire.COORDINATOR, msg

    def start(self) -> Outgoing:
        if self._state != "new":
            raise LocalProtocolError("start() is called once")
        self._state = "keys"
        return [self._send(wire.KIND_KEY, wire.EVERY_LAB, self._lab.public_key)]

    def receive(self, data: bytes) -> Outgoing:
        if self._state in ("new", "done", "failed"):
            raise LocalProtocolError(f"receive() in state {self._state}")
        msg = self._authentic(data)
        try:
            if msg.recipient not in (self.index, wire.EVERY_LAB):
                raise OverThresholdError("a message addressed to another lab")
            return self._handle(msg)
        except BaseException:
            self._state = "failed"
            raise

    def _authentic(self, data: bytes) -> wire.Message:
        """A message signed by a party of this run (else :class:`UnauthenticatedMessage`, which leaves the
        lab as it was: nobody of the run sent it)."""
        msg = wire.decode(data, self.terms.key_of(wire.peek(data).sender))
        if msg.round_id != self.terms.round_id:
            raise wire.UnauthenticatedMessage("a message of another run")
        return msg

    def _handle(self, msg: wire.Message) -> Outgoing:
        if msg.kind == wire.KIND_KEY:
            return self._on_key(msg)
        if msg.kind == wire.KIND_HOP:
            if self._state == "keys":  # relayed before the last key: keep it for then
                if len(self._early) >= self.terms.n:
                    raise OverThresholdError("too many hops before the round keys")
                self._early.append(msg)
                return []
            return self._on_hop(msg)
        if msg.kind == wire.KIND_RESULT and msg.sender == wire.COORDINATOR:
            return self._on_result(msg)
        raise OverThresholdError(f"a message of type {msg.kind} from party {msg.sender} is not for a lab")

    def _on_key(self, msg: wire.Message) -> Outgoing:
        if self._state != "keys" or msg.sender == wire.COORDINATOR or msg.sender in self._keys:
            raise OverThresholdError(f"a repeated or late round key from lab {msg.sender}")
        if len(msg.body) != 32:
            raise OverThresholdError("a round key is 32 bytes")
        self._keys[msg.sender] = msg.body
        if len(self._keys) < self.terms.n:
            return []
        self._lab.params = self._lab.params.with_keys(self._keys)
        self._state = "ring"
        out = [
            self._send(
                wire.KIND_HOP, ring_at(self.index, 1, self.terms.n), wire.encode_hop(self._lab.start())
            )
        ]
        early, self._early = self._early, []
        for m in early:
            out += self._on_hop(m)
        return out

    def _on_hop(self, msg: wire.Message) -> Outgoing:
        if self._state != "ring" or msg.sender == wire.COORDINATOR:
            raise OverThresholdError("a hop out of place")
        hop: Hop = wire.decode_hop(msg.body, self.terms.n_items)
        if hop.by(self.terms.n) != msg.sender:
            raise OverThresholdError(f"lab {msg.sender} sent a hop that is not its own")
        if hop.owner in self._seen_hops:
            raise OverThresholdError(f"lab {hop.owner}'s list came by twice")
        self._seen_hops.add(hop.owner)
        out: Outgoing = []
        if hop.owner != self.index:
            nxt = self._lab.apply(hop)
            to = ring_at(hop.owner, len(nxt.proofs) + 1, self.terms.n)
            out.append(self._send(wire.KIND_HOP, to, wire.encode_hop(nxt)))
        else:
            self._lab.finish(hop)
        if len(self._seen_hops) == self.terms.n:  # our list is back and we owe no lab a hop
            self._state = "uploaded"
            out.append(self._send(wire.KIND_UPLOAD, wire.COORDINATOR, wire.encode_upload(self._lab.shares())))
            if self._early_result is not None:
                out += self._on_result(self._early_result)
        return out

    def _on_result(self, msg: wire.Message) -> Outgoing:
        if self._state != "uploaded":  # read before our own upload (a restarted lab reads its inbox again)
            if self._early_result is not None:
                raise OverThresholdError("two results from the coordinator")
            self._early_result = msg
            return []
        bins, m = bins_and_slots(self.terms.n_items, self.terms.n, self.terms.t)
        self.results = self._lab.results(wire.decode_result(msg.body, bins * m))
        self._state = "done"
        return []


class ThresholdCoordinator:
    """The forum's side: relays every lab's signed messages to their recipients (checking the sender's
    signature and the ring order), keeps the uploads, and when every lab has uploaded runs the join and
    sends each lab its passing slots, signed with the forum's key. It holds no key of the ring."""

    def __init__(self, terms: ThresholdTerms, identity: Identity) -> None:
        if not hmac.compare_digest(identity.public.raw, terms.coordinator.raw):
            raise InvalidParameter("the coordinator's identity is not the run's coordinator key")
        self.terms, self._identity = terms, identity
        self._keys: set[int] = set()
        self._hops: set[tuple[int, int]] = set()
        self._uploads: dict[int, list[list[Share]]] = {}
        self.passed: dict[int, set[int]] | None = None

    def __repr__(self) -> str:
        return f"ThresholdCoordinator(n={self.terms.n}, uploads={len(self._uploads)})"

    def receive(self, data: bytes) -> Outgoing:
        """One lab's message; what to deliver, as ``(lab index, bytes)``."""
        if self.passed is not None:
            raise OverThresholdError("a message after the run's results")
        head = wire.peek(data)
        if head.sender == wire.COORDINATOR:
            raise OverThresholdError("a message claiming to come from the coordinator")
        msg = wire.decode(data, self.terms.key_of(head.sender))
        if msg.round_id != self.terms.round_id:
            raise wire.UnauthenticatedMessage("a message of another run")
        labs = range(1, self.terms.n + 1)
        if msg.kind == wire.KIND_KEY and msg.recipient == wire.EVERY_LAB and msg.sender not in self._keys:
            self._keys.add(msg.sender)
            return [(j, data) for j in labs if j != msg.sender]
        if msg.kind == wire.KIND_HOP:
            hop = wire.decode_hop(msg.body, self.terms.n_items)
            steps = len(hop.proofs)
            ok = 1 <= hop.owner <= self.terms.n and ring_at(hop.owner, steps, self.terms.n) == msg.sender
            if not ok or msg.recipient != ring_at(hop.owner, steps + 1, self.terms.n):
                raise OverThresholdError(f"lab {msg.sender} sent a hop out of ring order")
            if (hop.owner, steps) in self._hops:
                raise OverThresholdError(f"lab {msg.sender} sent the same hop twice")
            self._hops.add((hop.owner, steps))
            return [(msg.recipient, data)]
        if msg.kind == wire.KIND_UPLOAD and msg.recipient == wire.COORDINATOR:
            return self._on_upload(msg)
        raise OverThresholdError(f"lab {msg.sender} sent a message of type {msg.kind} out of place")

    def _on_upload(self, msg: wire.Message) -> Outgoing:
        if msg.sender in self._uploads:
            raise OverThresholdError(f"lab {msg.sender} uploaded twice")
        bins, m = bins_and_slots(self.terms.n_items, self.terms.n, self.terms.t)
        self._uploads[msg.sender] = wire.decode_upload(msg.body, bins, m)
        if len(self._uploads) < self.terms.n:
            return []
        self.passed = coordinate(self.terms.params(), self._uploads)
        self._uploads = {}
        return [
            (j, wire.encode(self._identity, wire.KIND_RESULT, self.terms.round_id, wire.COORDINATOR, j,
                            wire.encode_result(slots)))
            for j, slots in sorted(self.passed.items())
        ]  # fmt: skip

    def missing_uploads(self) -> list[int]:
        """The labs whose upload has not come (to name a dropout)."""
        return [j for j in range(1, self.terms.n + 1) if j not in self._uploads]

    def waiting_for(self) -> str:
        """What the coordinator waits for, in words (to name a dropout)."""
        names = dict(enumerate((name for name, _ in self.terms.labs), start=1))
        keys = [names[j] for j in names if j not in self._keys]
        if keys:
            return "round keys of " + ", ".join(keys)
        return "uploads of " + ", ".join(names[j] for j in self.missing_uploads())


def run_threshold_in_memory(
    terms: ThresholdTerms,
    coordinator: ThresholdCoordinator,
    labs: dict[int, ThresholdLab],
) -> dict[int, list[bytes]]:
    """Every message delivered in order of sending (tests, examples): each lab's results."""
    queue: list[tuple[int, bytes]] = []  # (to, data)
    for _, lab in sorted(labs.items()):
        queue += lab.start()
    while queue:
        to, data = queue.pop(0)
        queue += coordinator.receive(data) if to == wire.COORDINATOR else labs[to].receive(data)
    out = {}
    for i, lab in labs.items():
        if lab.results is None:
            raise LocalProtocolError(f"lab {i} ended without a result")
        out[i] = lab.results
    return out
