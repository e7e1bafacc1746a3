"""Helpers shared by the session tests: seeded randomness, a settable clock, ready-made parties."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from blindmatch.session import (
    Identity,
    InitiatorSession,
    PeerStore,
    Policy,
    ResponderSession,
)

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def seeded_rng(seed: bytes) -> Callable[[int], bytes]:
    """Deterministic bytes (SHA-256 in counter mode): tests pin every random choice."""
    counter = itertools.count()

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return rng


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


ALICE = Identity.from_seed(hashlib.sha256(b"alice").digest())
BOB = Identity.from_seed(hashlib.sha256(b"bob").digest())
CAROL = Identity.from_seed(hashlib.sha256(b"carol").digest())


def trust(*pairs: tuple[str, Identity]) -> PeerStore:
    store = PeerStore()
    for name, ident in pairs:
        store.add(name, ident.public)
    return store


def make_parties(
    a_items: Mapping[str, Iterable[str]] | None = None,
    b_items: Mapping[str, Iterable[str]] | None = None,
    *,
    mode: str = "intersection",
    padding: str = "pow2",
    max_items: int | tuple[int, int] = 64,
    policy: Policy | None = None,
    seed: bytes = b"s",
    clock: Clock | None = None,
    initiator: Identity = ALICE,
    responder: Identity = BOB,
    addressed_to: Identity | None = None,
    peers: PeerStore | None = None,
    **kw: Any,
) -> tuple[InitiatorSession, ResponderSession]:
    clock = clock or Clock()
    cap_r = max_items[1] if isinstance(max_items, tuple) else max_items
    if policy is None:
        policy = Policy(max_items_responder=cap_r)
    elif policy.max_items_responder == Policy().max_items_responder:  # the default: match the proposal
        policy = dataclasses.replace(policy, max_items_responder=cap_r)
    if a_items is None:
        a_items = {"email": [f"user{i}@example.org" for i in range(10)]}
    if b_items is None:
        b_items = {"email": [f"user{i}@example.org" for i in range(5, 20)]}
    init = InitiatorSession(
        initiator,
        (addressed_to or responder).public,
        items_by_kind=a_items,
        mode=mode,
        max_items=max_items,
        padding=padding,
        purpose="joint abuse review 2026-Q4",
        rng=seeded_rng(b"init" + seed),
        clock=clock,
        **kw,
    )
    resp = ResponderSession(
        responder,
        peers if peers is not None else trust(("alice", ALICE)),
        policy,
        items_by_kind=b_items,
        rng=seeded_rng(b"resp" + seed),
        clock=clock,
    )
    return init, resp


def step(init: InitiatorSession, resp: ResponderSession) -> list[bytes]:
    """Run honestly to the end; return the wire messages."""
    wire = [init.start()]
    parties = [resp, init]
    i = 0
    while True:
        out = parties[i % 2].receive(wire[-1])
        if out is None:
            return wire
        wire.append(out)
        i += 1
