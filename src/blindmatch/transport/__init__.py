"""Moving protocol messages between labs: TCP frames (asyncio) and message/state files; the SQLite store of
what a server keeps across restarts (per-peer daily session budgets).

Protocol parties stay sans-I/O; this package only carries their bytes.
"""

from __future__ import annotations

from .budget import DailySessionBudget, SessionBudget, StoredSessionBudget
from .dispatch import DispatchingParty, ResultlessParty
from .driver import InitiatingParty, Party, abort_party, next_frame_limit, run_party
from .errors import (
    FrameTooLarge,
    HandshakeDropped,
    ListenError,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
    SessionBudgetExceeded,
    TooManySessions,
)
from .files import (
    MessageFileError,
    StateFileError,
    delete_state,
    read_message,
    read_state,
    state_guard,
    write_message,
    write_state,
)
from .framing import DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT, FramedConnection
from .store import StateStore, StoreError, StoreVersionError
from .tcp import (
    DEFAULT_FIRST_BYTE_TIMEOUT,
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_HOST,
    Server,
    ServerStats,
    SessionOutcome,
    connect_and_run,
)

__all__ = [
    "DEFAULT_FIRST_BYTE_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_HOST",
    "DEFAULT_MAX_FRAME",
    "DEFAULT_TIMEOUT",
    "DailySessionBudget",
    "DispatchingParty",
    "FrameTooLarge",
    "FramedConnection",
    "HandshakeDropped",
    "InitiatingParty",
    "ListenError",
    "MessageFileError",
    "Party",
    "PeerDisconnected",
    "PeerTimeout",
    "PeerUnreachable",
    "ResultlessParty",
    "Server",
    "ServerStats",
    "SessionBudget",
    "SessionBudgetExceeded",
    "SessionOutcome",
    "StateFileError",
    "StateStore",
    "StoreError",
    "StoreVersionError",
    "StoredSessionBudget",
    "TooManySessions",
    "abort_party",
    "connect_and_run",
    "delete_state",
    "next_frame_limit",
    "read_message",
    "read_state",
    "run_party",
    "state_guard",
    "write_message",
    "write_state",
]
