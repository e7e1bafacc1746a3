"""One SQLite file for the state a server keeps across restarts: the per-peer daily session budgets (later
features keep theirs here too: replay data, published-set budgets, group rounds).

Conventions for a feature that keeps state here:

* one table per feature, named after it (``session_budget``); a feature reads and writes only its own
  tables;
* the ``meta`` table holds ``format`` (``blindmatch-store``) and ``schema_version``, the version of the
  whole file. A feature that adds or changes a table appends a migration to ``_MIGRATIONS`` (entry ``i``
  takes a file from version ``i`` to ``i + 1``; :data:`SCHEMA_VERSION` is their number; a released one
  never changes); a file is migrated when it is opened, in one transaction. A file of a newer version than
  this blindmatch knows is refused (:class:`StoreVersionError`), never downgraded or rewritten;
* every read-modify-write is one :meth:`StateStore.transaction`, begun with ``BEGIN IMMEDIATE``: it takes
  the file's write lock before it reads, so two processes sharing the file (or two threads sharing one
  :class:`StateStore`) never both take the last unit of a budget.

The file is as private as a state file: created with mode 0600, and refused when it is a symbolic link,
not a regular file, owned by another user or open to other users. It uses WAL journal mode (readers do not
wait for the writer; SQLite gives the ``-wal`` and ``-shm`` files beside it the database's own mode); a
writer waits up to ``timeout`` seconds for the lock (``busy_timeout``). Open one :class:`StateStore` per
process (never share one across ``fork``); its threads may share it. The folder must be on a local file
system (WAL needs shared memory between the processes).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from .._fileio import check_private_file
from ..errors import FileAccessError, InvalidParameter

__all__ = ["SCHEMA_VERSION", "STORE_FORMAT", "StateStore", "StoreError", "StoreVersionError"]

STORE_FORMAT = "blindmatch-store"

#: Entry ``i``: the statements that take a store from schema version ``i`` to ``i + 1`` (0: a new file).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        "INSERT INTO meta (key, value) VALUES ('format', 'blindmatch-store')",  # STORE_FORMAT
        # sessions charged per peer per UTC day (day: days since the epoch); see StoredSessionBudget
        "CREATE TABLE session_budget (peer TEXT NOT NULL, day INTEGER NOT NULL, used INTEGER NOT NULL, "
        "PRIMARY KEY (peer, day)) WITHOUT ROWID",
    ),
    (
        # published-set evaluations charged per querier, per (publisher, epoch) and kind, and their total
        # per (publisher, epoch); see blindmatch.published.budget
        "CREATE TABLE published_budget (querier TEXT NOT NULL, epoch TEXT NOT NULL, kind TEXT NOT NULL, "
        "used INTEGER NOT NULL, PRIMARY KEY (querier, epoch, kind)) WITHOUT ROWID",
        "CREATE TABLE published_total (epoch TEXT PRIMARY KEY, used INTEGER NOT NULL) WITHOUT ROWID",
    ),
)
#: The schema version this blindmatch writes (and the newest it opens): one per migration.
SCHEMA_VERSION = len(_MIGRATIONS)


class StoreError(FileAccessError):
    """The store cannot be opened or used: it cannot be created or written (permissions, a read-only folder,
    a full disk), it is not this user's own private regular file, it is not a blindmatch store or is
    damaged, or another process held its lock past the timeout. A :class:`~blindmatch.LocalError`."""


class StoreVersionError(StoreError):
    """The store has a schema version this blindmatch does not know (written by a newer one)."""


class StateStore:
    """The SQLite store at ``path`` (created if missing), migrated to :data:`SCHEMA_VERSION`.

    ``timeout``: how long a transaction waits for another process's (seconds). Use it as a context
    manager, or call :meth:`close`. Failures raise :class:`StoreError` naming the path.
    """

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        if not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
            raise InvalidParameter("timeout must be a number of seconds in (0, 3600]")
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = _connect(self.path, timeout)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (idempotent); any later transaction raises :class:`StoreError`."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back if it raises.

        The connection yielded is for the block only. SQLite errors become :class:`StoreError`; any other
        exception (a budget refusal) rolls back and propagates as it is.
        """
        with self._lock:
            db = self._db
            if db is None:
                raise StoreError(f"the store {self.path} is closed")
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error(self.path, exc) from None
            try:
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise _store_error(self.path, exc) from None
            except BaseException:
                _rollback(db)
                raise

    @property
    def schema_version(self) -> int:
        """The file's schema version (always :data:`SCHEMA_VERSION` once opened)."""
        with self.transaction() as db:
            return _version(db, self.path)

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = _version(db, self.path)
            for v in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[v]:
                    db.execute(statement)
            if version < SCHEMA_VERSION:
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )


def _version(db: sqlite3.Connection, path: Path) -> int:
    """The schema version of the open file: 0 for a new (empty) database; refuses a foreign or newer one."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return 0
    not_ours = StoreError(f"{path} is an SQLite database but not a blindmatch store; give another --store")
    if "meta" not in tables:
        raise not_ours
    try:
        meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
    except (sqlite3.Error, ValueError):
        raise not_ours from None
    if meta.get("format") != STORE_FORMAT:
        raise not_ours
    try:
        version = int(meta["schema_version"])
    except (KeyError, ValueError):
        raise StoreError(f"{path}: damaged blindmatch store (no schema version)") from None
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{path} has store schema version {version}, newer than this blindmatch knows "
            f"({SCHEMA_VERSION}): upgrade blindmatch, or give another --store"
        )
    if version < 1:
        raise StoreError(f"{path}: damaged blindmatch store (schema version {version})")
    return version


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    """Check or create the file, open it in WAL mode, and check it is still the file checked."""
    st = check_private_file(path, what="store", error=StoreError) or _create(path)
    try:
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _store_error(path, exc) from None
    try:
        db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            raise StoreError(f"cannot use WAL journal mode for the store {path} (a network file system?)")
        now = check_private_file(path, what="store", error=StoreError)
        if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise StoreError(f"the store {path} was replaced while it was being opened")
    except sqlite3.Error as exc:
        db.close()
        raise _store_error(path, exc) from None
    except BaseException:
        db.close()
        raise
    return db


def _create(path: Path) -> os.stat_result:
    """Create an empty store file with mode 0600 (an empty file is an empty SQLite database)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # another process created it meanwhile
        st = check_private_file(path, what="store", error=StoreError)
        if st is None:
            raise StoreError(f"the store {path} vanished while it was being opened") from None
        return st
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """One clear line for an SQLite failure (never the driver's traceback)."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return StoreError(f"{path} is not a blindmatch store (not an SQLite database, or damaged): {text}")
    if "locked" in low or "busy" in low:
        return StoreError(f"the store {path} is busy (another process held its lock past the timeout)")
    if "unable to open" in low or "readonly" in low or "read-only" in low:
        return StoreError(
            f"cannot open the store {path} for writing ({text}): this user must be able to write it and "
            "create files in its folder"
        )
    return StoreError(f"the store {path}: {text}")
