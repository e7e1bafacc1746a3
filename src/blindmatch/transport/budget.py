"""A per-peer budget of sessions per UTC day (a hook for servers and session policies): in memory
(:class:`DailySessionBudget`) or kept in a :class:`~blindmatch.transport.StateStore`
(:class:`StoredSessionBudget`: it survives a restart and is shared by the processes using the file)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..errors import InvalidParameter
from .errors import SessionBudgetExceeded
from .store import StateStore

__all__ = ["DailySessionBudget", "SessionBudget", "StoredSessionBudget"]

_DAY_S = 86400


class SessionBudget(Protocol):
    """What a session policy charges: ``charge(peer)`` counts one session or raises
    :class:`SessionBudgetExceeded`; ``used(peer)`` is today's count; ``limit`` the sessions per day."""

    @property
    def limit(self) -> int: ...

    def used(self, peer: str) -> int: ...

    def charge(self, peer: str) -> None: ...


class DailySessionBudget:
    """At most ``limit`` sessions per peer per UTC day; ``charge(peer)`` counts one or refuses.

    ``peer`` is whatever names the peer at the calling layer: an address before authentication, the
    identity fingerprint after it (preferable: addresses change and can be shared). Counts live in memory:
    a restart starts every peer afresh (:class:`StoredSessionBudget` keeps them on disk).
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
        day = int(self._clock() // _DAY_S)
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


class StoredSessionBudget:
    """At most ``limit`` sessions per peer per UTC day, counted in ``store`` (table ``session_budget``).

    The same interface as :class:`DailySessionBudget`; the counts survive a restart, and every process and
    thread using the store's file shares them: each charge is one transaction that takes the file's write
    lock before reading the count, so concurrent charges never exceed ``limit`` together. Each charge also
    drops the counts of days before yesterday (:meth:`prune`). Store failures raise
    :class:`~blindmatch.transport.StoreError`, which fails the session (closed: it never passes unbudgeted).
    """

    def __init__(self, store: StateStore, limit: int, *, clock: Callable[[], float] = time.time) -> None:
        if not isinstance(store, StateStore):
            raise TypeError("store must be a StateStore")
        if limit < 0:
            raise InvalidParameter("limit must be >= 0")
        self.limit = limit
        self._store = store
        self._clock = clock

    def _today(self) -> int:
        return int(self._clock() // _DAY_S)

    def used(self, peer: str) -> int:
        day = self._today()
        with self._store.transaction() as db:
            return _used(db, peer, day)

    def charge(self, peer: str) -> None:
        day = self._today()
        with self._store.transaction() as db:
            if _used(db, peer, day) >= self.limit:
                raise SessionBudgetExceeded(f"peer {peer} has used its {self.limit} session(s) for today")
            db.execute(
                "INSERT INTO session_budget (peer, day, used) VALUES (?, ?, 1) "
                "ON CONFLICT (peer, day) DO UPDATE SET used = used + 1",
                (peer, day),
            )
            _prune(db, day - 1)

    def prune(self) -> int:
        """Drop the counts of days before yesterday (kept one day for clocks a little behind); returns how
        many (peer, day) counts went."""
        day = self._today()
        with self._store.transaction() as db:
            return _prune(db, day - 1)


def _used(db: sqlite3.Connection, peer: str, day: int) -> int:
    row = db.execute("SELECT used FROM session_budget WHERE peer = ? AND day = ?", (peer, day)).fetchone()
    return int(row[0]) if row else 0


def _prune(db: sqlite3.Connection, before_day: int) -> int:
    return db.execute("DELETE FROM session_budget WHERE day < ?", (before_day,)).rowcount
