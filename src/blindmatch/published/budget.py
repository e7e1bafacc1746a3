"""Evaluation budgets of a publisher: per querier, per epoch and per kind, plus the file's lifetime total.

RFC 9497's section 7.2.3 bound on evaluations is about recovering the key; it says nothing about privacy.
What protects a published set is how few guesses each querier may test, so the default caps follow how
enumerable each kind is: a kind whose plausible values can be listed (IPv4 addresses: one /16 is 65,536
queries; phone numbers of one exchange; masked cards of one BIN) gets a small cap, a kind whose values
cannot (email addresses, URLs, hashes) a larger one. Queriers who collude pool their budgets: caps bound
each identity, not a coalition (docs/published-sets.md).

:class:`MemoryEvaluationBudget` counts in memory; :class:`StoredEvaluationBudget` in a
:class:`~blindmatch.transport.StateStore` (tables ``published_budget`` and ``published_total``), so counts
survive a restart and are shared by every process using the file.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from ..errors import InvalidParameter
from ..transport.store import StateStore
from .errors import EvaluationBudgetExceeded

__all__ = [
    "DEFAULT_CAPS",
    "DEFAULT_KIND_CAP",
    "EvaluationBudget",
    "MemoryEvaluationBudget",
    "StoredEvaluationBudget",
    "caps_with",
    "refusal",
]

#: Evaluations per querier, per epoch, per kind, by how enumerable the kind is.
DEFAULT_CAPS: dict[str, int] = {
    "ip": 1024,
    "cidr": 1024,
    "asn": 256,
    "phone": 1024,
    "account": 4096,
    "card": 256,
    "iban": 1024,
    "org": 4096,
    "email": 16384,
    "domain": 16384,
    "url": 16384,
    "user-agent": 16384,
    "crypto-address": 16384,
    "api-key": 65536,
    "payment-fingerprint": 65536,
    "device-fingerprint": 65536,
    "prompt": 65536,
    "prompt-band": 65536,
    "text": 4096,
}
#: The cap of a kind not listed above.
DEFAULT_KIND_CAP = 4096


def caps_with(overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """The default caps with ``overrides`` applied (each a non-negative integer)."""
    caps = dict(DEFAULT_CAPS)
    for kind, cap in (overrides or {}).items():
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise InvalidParameter(f"the cap of {kind!r} must be a non-negative integer")
        caps[kind] = cap
    return caps


class EvaluationBudget(Protocol):
    """``caps`` by kind; ``charge(querier, epoch, counts, lifetime)`` takes ``counts[kind]`` evaluations
    for one query, all or none, or raises :class:`EvaluationBudgetExceeded`; ``epoch`` names the
    publisher's epoch (its base file id), ``lifetime`` the file's bound on all evaluations together."""

    @property
    def caps(self) -> Mapping[str, int]: ...

    def charge(self, querier: str, epoch: str, counts: Mapping[str, int], lifetime: int) -> None: ...

    def used(self, querier: str, epoch: str, kind: str) -> int: ...


def refusal(budget: EvaluationBudget, caps: Mapping[str, int], querier: str, epoch: str,
            counts: Mapping[str, int]) -> str | None:  # fmt: skip
    """Why ``counts`` would exceed a cap now (a check before accepting; the charge itself comes later,
    atomically), or ``None``."""
    for kind, n in counts.items():
        used, cap = budget.used(querier, epoch, kind), caps.get(kind, DEFAULT_KIND_CAP)
        if used + n > cap:
            return str(_refusal(querier, kind, used, n, cap))
    return None


def _check_counts(counts: Mapping[str, int]) -> None:
    for kind, n in counts.items():
        if not isinstance(kind, str) or isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidParameter("counts are non-negative integers by kind")


def _refusal(querier: str, kind: str, used: int, asked: int, cap: int) -> EvaluationBudgetExceeded:
    return EvaluationBudgetExceeded(
        f"querier {querier} asked for {asked} {kind} evaluation(s) with {used} of its {cap} for this "
        "epoch used"
    )


class MemoryEvaluationBudget:
    """Per-querier, per-epoch, per-kind caps counted in memory (a restart forgets them)."""

    def __init__(self, caps: Mapping[str, int] | None = None) -> None:
        self.caps = caps_with(caps)
        self._used: dict[tuple[str, str, str], int] = {}
        self._total: dict[str, int] = {}
        self._lock = threading.Lock()

    def used(self, querier: str, epoch: str, kind: str) -> int:
        with self._lock:
            return self._used.get((querier, epoch, kind), 0)

    def charge(self, querier: str, epoch: str, counts: Mapping[str, int], lifetime: int) -> None:
        _check_counts(counts)
        with self._lock:
            for kind, n in counts.items():
                used = self._used.get((querier, epoch, kind), 0)
                cap = self.caps.get(kind, DEFAULT_KIND_CAP)
                if used + n > cap:
                    raise _refusal(querier, kind, used, n, cap)
            total = self._total.get(epoch, 0) + sum(counts.values())
            if total > lifetime:
                raise EvaluationBudgetExceeded("the file's lifetime bound on evaluations is reached")
            for kind, n in counts.items():
                self._used[(querier, epoch, kind)] = self._used.get((querier, epoch, kind), 0) + n
            self._total[epoch] = total


class StoredEvaluationBudget:
    """The same caps, counted in ``store``: each charge is one transaction holding the file's write lock,
    so concurrent queries never exceed a cap together, and a restart keeps every count. Store failures
    raise :class:`~blindmatch.transport.StoreError` (the query fails closed)."""

    def __init__(self, store: StateStore, caps: Mapping[str, int] | None = None) -> None:
        if not isinstance(store, StateStore):
            raise TypeError("store must be a StateStore")
        self.caps = caps_with(caps)
        self._store = store

    def used(self, querier: str, epoch: str, kind: str) -> int:
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT used FROM published_budget WHERE querier = ? AND epoch = ? AND kind = ?",
                (querier, epoch, kind),
            ).fetchone()
            return int(row[0]) if row else 0

    def charge(self, querier: str, epoch: str, counts: Mapping[str, int], lifetime: int) -> None:
        _check_counts(counts)
        with self._store.transaction() as db:
            for kind, n in counts.items():
                row = db.execute(
                    "SELECT used FROM published_budget WHERE querier = ? AND epoch = ? AND kind = ?",
                    (querier, epoch, kind),
                ).fetchone()
                used = int(row[0]) if row else 0
                cap = self.caps.get(kind, DEFAULT_KIND_CAP)
                if used + n > cap:
                    raise _refusal(querier, kind, used, n, cap)
            row = db.execute("SELECT used FROM published_total WHERE epoch = ?", (epoch,)).fetchone()
            if (int(row[0]) if row else 0) + sum(counts.values()) > lifetime:
                raise EvaluationBudgetExceeded("the file's lifetime bound on evaluations is reached")
            for kind, n in counts.items():
                db.execute(
                    "INSERT INTO published_budget (querier, epoch, kind, used) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (querier, epoch, kind) DO UPDATE SET used = used + excluded.used",
                    (querier, epoch, kind, n),
                )
            db.execute(
                "INSERT INTO published_total (epoch, used) VALUES (?, ?) "
                "ON CONFLICT (epoch) DO UPDATE SET used = used + excluded.used",
                (epoch, sum(counts.values())),
            )
