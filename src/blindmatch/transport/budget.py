"""A per-peer budget of sessions per UTC day (a hook for servers and session policies)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import InvalidParameter
from .errors import SessionBudgetExceeded

__all__ = ["DailySessionBudget"]


class DailySessionBudget:
    """At most ``limit`` sessions per peer per UTC day; ``charge(peer)`` counts one or refuses.

    ``peer`` is whatever names the peer at the calling layer: an address before authentication, the
    identity fingerprint after it (preferable: addresses change and can be shared). Counts live in memory.
    """

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.time) -> None:
        if limit < 0:
            raise InvalidParameter("limit must be >= 0")
        self.limit = limit
        self._clock = clock
        self._day = -1
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _today(self) -> int:
        day = int(self._clock() // 86400)
        if day != self._day:
            self._day = day
            self._counts.clear()
        return day

    def used(self, peer: str) -> int:
        with self._lock:
            self._today()
            return self._counts.get(peer, 0)

    def charge(self, peer: str) -> None:
        with self._lock:
            self._today()
            n = self._counts.get(peer, 0)
            if n >= self.limit:
                raise SessionBudgetExceeded(f"peer {peer} has used its {self.limit} session(s) for today")
            self._counts[peer] = n + 1
