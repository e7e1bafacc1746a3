"""Which connections a server keeps while they deliver their first frame (like OpenSSH's ``MaxStartups``
and ``PerSourceMaxStartups``).

A connection is *pending* from its accept until it holds a session slot. At most ``max_per_source``
pending connections come from one source (an IPv4 address, an IPv6 /64) and at most ``max_total`` in
all. When a new connection would pass a limit, one connection is dropped at random among those that have
not yet delivered a whole first frame (the new one included): of that source for the per-source limit,
of the sources holding the most pending connections for the global one. A connection whose first frame
is complete (its hello is waiting for a slot or being verified) is never dropped: if only such
connections hold the places, the new one is refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from dataclasses import dataclass, field

__all__ = ["Pending", "PendingTable", "source_key"]


def source_key(host: str) -> str:
    """The source a connection from ``host`` counts against: the IPv4 address (an IPv4-mapped IPv6
    address counts as its IPv4 address), or the IPv6 /64 network; ``host`` itself if it is no address."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(eq=False)
class Pending:
    """One pending connection: its source, its task, and whether its first frame is complete."""

    source: str
    task: asyncio.Task[None] | None
    complete: bool = False
    dropped: bool = False


@dataclass
class PendingTable:
    """The pending connections, by source (see the module's docstring)."""

    max_total: int
    max_per_source: int
    rng: random.Random
    _by_source: dict[str, list[Pending]] = field(default_factory=dict)
    _total: int = 0

    def count(self, source: str | None = None) -> int:
        """Pending connections from ``source`` (a :func:`source_key`), or in all."""
        if source is None:
            return self._total
        return len(self._by_source.get(source, ()))

    def admit(self, new: Pending) -> bool:
        """Make room for ``new`` (dropping another connection if a limit is reached) and add it; False if
        ``new`` itself is the one refused."""
        mine = self._by_source.get(new.source, [])
        if len(mine) >= self.max_per_source and not self._drop_one(list(mine), new, with_new=True):
            return False
        if self._total >= self.max_total:
            sizes = {s: len(v) for s, v in self._by_source.items()}
            sizes[new.source] = sizes.get(new.source, 0) + 1  # the new one counts toward its source
            most = max(sizes.values())
            heaviest = [p for s, v in self._by_source.items() if sizes[s] == most for p in v]
            if not self._drop_one(heaviest, new, with_new=sizes[new.source] == most) and (
                new.dropped or not self._drop_one(self._all(), new, with_new=True)
            ):
                return False
        self._by_source.setdefault(new.source, []).append(new)
        self._total += 1
        return True

    def remove(self, p: Pending) -> None:
        """``p`` is no longer pending (it holds a slot, ended, or was dropped); idempotent."""
        group = self._by_source.get(p.source)
        if group is None or p not in group:
            return
        group.remove(p)
        self._total -= 1
        if not group:
            del self._by_source[p.source]

    def _all(self) -> list[Pending]:
        return [p for v in self._by_source.values() for p in v]

    def _drop_one(self, among: list[Pending], new: Pending, *, with_new: bool) -> bool:
        """Drop one connection chosen at random among the incomplete ones of ``among`` (and ``new`` if
        ``with_new``); True if another one was dropped (room was made). False if ``new`` was chosen (its
        ``dropped`` is then set) or if there was nothing to drop."""
        candidates = [p for p in among if not p.complete and p is not new]
        pick = self.rng.randrange(len(candidates) + 1) if with_new else None
        if not candidates and not with_new:
            return False
        if pick is None:
            pick = self.rng.randrange(len(candidates))
        if pick == len(candidates):
            new.dropped = True
            return False
        victim = candidates[pick]
        victim.dropped = True
        self.remove(victim)
        if victim.task is not None:
            victim.task.cancel()
        return True
