"""Helpers of the round tests: a forum, its policy and a signed group file of n labs on free loopback
ports, each lab's indicators, and the merged report as plain set counting gives it."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from blindmatch.groups.forum_policy import ForumPolicy, sign_policy
from blindmatch.groups.group_file import Group, GroupLab, sign_group
from blindmatch.session import Identity

FORUM = Identity.from_seed(bytes([1]) * 32)
NAMES = ("lab-a", "lab-b", "lab-c", "lab-d")
IDS = {name: Identity.from_seed(bytes([40 + i]) * 32) for i, name in enumerate(NAMES)}
OUTSIDER = Identity.from_seed(bytes([60]) * 32)
KINDS = ("domain", "email", "ip")


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (bound, noted, released)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


def make_policy(**changes: Any) -> ForumPolicy:
    now = int(time.time())
    fields: dict[str, Any] = {
        "forum": "test-forum",
        "forum_key": FORUM.public,
        "version": 1,
        "issued": now - 3600,
        "not_after": now + 86400,
        "canon_version": 1,
        "kinds": KINDS,
        "max_items": 4096,
        "paddings": ("cap", "pow2"),
        "min_threshold": 2,
        "retention_days": 30,
        "members": {name: ident.public for name, ident in IDS.items()},
        "revoked": (),
    }
    fields.update(changes)
    return ForumPolicy(**fields)


def make_group(policy: ForumPolicy, n: int, ports: Sequence[int], **changes: Any) -> Group:
    labs = tuple(GroupLab(NAMES[i], IDS[NAMES[i]].public, "127.0.0.1", ports[i]) for i in range(n))
    fields: dict[str, Any] = {
        "round": "round-1",
        "forum_policy": policy.digest,
        "threshold": 2,
        "purpose": "weekly abuse indicator round",
        "issued": policy.issued,
        "not_after": policy.not_after,
        "labs": labs,
        "kinds": KINDS,
        "max_items": 256,
        "padding": "pow2",
    }
    fields.update(changes)
    return Group(**fields)


def signed(policy: ForumPolicy, group: Group) -> tuple[bytes, bytes]:
    return sign_policy(FORUM, policy), sign_group(FORUM, group)


def universe(seed: int = 7) -> list[tuple[str, str]]:
    """Canonical indicators of the three kinds."""
    out = [("domain", f"evil{i}.example.com") for i in range(20)]
    out += [("email", f"abuser{i}@mail.example.org") for i in range(15)]
    out += [("ip", f"203.0.113.{i}") for i in range(1, 16)]
    random.Random(seed).shuffle(out)
    return out


def lab_sets(names: Sequence[str], seed: int = 11) -> dict[str, set[tuple[str, str]]]:
    """Each lab's indicators: a random half of the universe (so pairs overlap in varied ways)."""
    rng = random.Random(seed)
    items = universe()
    return {name: set(rng.sample(items, 26)) for name in names}


@dataclass
class Expected:
    held_by: dict[tuple[str, str], tuple[str, ...]]
    per_kind: dict[str, dict[str, int]]
    over: set[tuple[str, str]]


def expected(
    me: str, order: Sequence[str], sets: Mapping[str, set[tuple[str, str]]], done: Sequence[str], t: int
) -> Expected:
    """The merged report by plain set counting (only the ``done`` peers count)."""
    mine = sets[me]
    held_by = {}
    for ind in mine:
        holders = tuple(n for n in order if n == me or (n in done and ind in sets[n]))
        if len(holders) > 1:
            held_by[ind] = holders
    per_kind = {
        kind: {
            n: sum(1 for k, c in mine if k == kind and (n == me or (n in done and (k, c) in sets[n])))
            for n in order
        }
        for kind in sorted({k for k, _ in mine})
    }
    over = {ind for ind, holders in held_by.items() if len(holders) >= t}
    return Expected(held_by, per_kind, over)


def report_view(doc: Mapping[str, Any]) -> Expected:
    """The same view of a merged report (its rows are one per input row; here one value per row)."""
    rows = doc["indicators"]
    held_by = {(r["kind"], r["canonical"]): tuple(r["held_by"]) for r in rows}
    over = {(rows[i]["kind"], rows[i]["canonical"]) for i in doc["over_threshold"]}
    return Expected(held_by, {k: dict(v) for k, v in doc["per_kind"].items()}, over)
