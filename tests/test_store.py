"""The on-disk store of a server's state (issue 11, D): the daily session budget outlives a restart, is
shared safely by processes and threads, and the file is refused when it is unsafe, foreign or newer."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv

from blindmatch import LocalError
from blindmatch.transport import (
    DailySessionBudget,
    SessionBudget,
    SessionBudgetExceeded,
    StateStore,
    StoredSessionBudget,
    StoreError,
    StoreVersionError,
)
from blindmatch.transport.store import SCHEMA_VERSION

DAY = 86400.0


class Clock:
    def __init__(self, t: float = 20_000 * DAY + 3600) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite3"


@pytest.fixture
def store(store_path: Path) -> Iterator[StateStore]:
    with StateStore(store_path) as s:
        yield s


# ---- the budget ----------------------------------------------------------------------------------------


def test_both_budgets_are_session_budgets(store: StateStore) -> None:
    budgets: list[SessionBudget] = [DailySessionBudget(2), StoredSessionBudget(store, 2)]
    for b in budgets:
        assert b.limit == 2 and b.used("peer:a") == 0
        b.charge("peer:a")
        b.charge("peer:a")
        with pytest.raises(SessionBudgetExceeded, match="2 session"):
            b.charge("peer:a")
        assert b.used("peer:a") == 2 and b.used("peer:b") == 0


def test_a_restart_keeps_the_budget(store_path: Path) -> None:
    clock = Clock()
    with StateStore(store_path) as s:
        b = StoredSessionBudget(s, 2, clock=clock)
        b.charge("peer:a")
        b.charge("peer:a")
    with StateStore(store_path) as s:  # a new process, or serve restarted
        again = StoredSessionBudget(s, 2, clock=clock)
        assert again.used("peer:a") == 2
        with pytest.raises(SessionBudgetExceeded):
            again.charge("peer:a")
        again.charge("peer:b")
        assert StoredSessionBudget(s, 3, clock=clock).used("peer:a") == 2  # a larger limit: 1 more today


def test_a_refused_charge_counts_nothing(store: StateStore) -> None:
    b = StoredSessionBudget(store, 0)
    with pytest.raises(SessionBudgetExceeded):
        b.charge("peer:a")
    assert b.used("peer:a") == 0


def test_the_budget_renews_each_utc_day_and_old_days_go(store: StateStore) -> None:
    clock = Clock(20_000 * DAY + DAY - 1)  # the last second of a UTC day
    b = StoredSessionBudget(store, 1, clock=clock)
    b.charge("peer:a")
    with pytest.raises(SessionBudgetExceeded):
        b.charge("peer:a")
    clock.t += 1  # midnight UTC
    assert b.used("peer:a") == 0
    b.charge("peer:a")
    assert b.prune() == 0  # yesterday is kept (a clock a little behind still sees its day)
    clock.t += 2 * DAY
    b.charge("peer:b")  # each charge drops the days before yesterday
    with store.transaction() as db:
        assert db.execute("SELECT peer, day FROM session_budget").fetchall() == [("peer:b", 20_003)]


def test_bad_arguments(store: StateStore, store_path: Path) -> None:
    with pytest.raises(LocalError):
        StoredSessionBudget(store, -1)
    with pytest.raises(TypeError):
        StoredSessionBudget(str(store_path), 1)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        StateStore(store_path, timeout=0)


def test_a_closed_store_refuses_use(store_path: Path) -> None:
    s = StateStore(store_path)
    b = StoredSessionBudget(s, 1)
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        b.charge("peer:a")


def test_threads_sharing_a_store_never_exceed_the_limit(store: StateStore) -> None:
    b = StoredSessionBudget(store, 25)
    taken: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(10):
            try:
                b.charge("peer:a")
                taken.append(1)
            except SessionBudgetExceeded:
                pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 25 and b.used("peer:a") == 25


def _charge_many(path: str, limit: int, tries: int, start: Any, out: Any) -> None:
    """In a child process: its own store on the shared file, ``tries`` charges; puts how many passed."""
    with StateStore(path, timeout=30) as s:
        b = StoredSessionBudget(s, limit)
        start.wait(30)
        passed = 0
        for _ in range(tries):
            try:
                b.charge("peer:a")
                passed += 1
            except SessionBudgetExceeded:
                pass
        out.put(passed)


def test_processes_sharing_the_file_never_exceed_the_limit(store_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_charge_many, args=(str(store_path), 30, 15, start, out)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    passed = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(passed) == 30  # 60 tries for 30 units: every unit taken once, none twice
    with StateStore(store_path) as s:
        assert StoredSessionBudget(s, 30).used("peer:a") == 30


# ---- the file ------------------------------------------------------------------------------------------


def test_the_file_is_private_and_versioned(store: StateStore, store_path: Path) -> None:
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    assert store.schema_version == SCHEMA_VERSION
    with store.transaction() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert meta == {"format": "blindmatch-store", "schema_version": str(SCHEMA_VERSION)}
    for extra in ("-wal", "-shm"):  # SQLite's own files beside it take the database's mode
        side = store_path.with_name(store_path.name + extra)
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0


def test_a_symlink_is_refused(tmp_path: Path, store_path: Path) -> None:
    StateStore(store_path).close()
    link = tmp_path / "link.sqlite3"
    link.symlink_to(store_path)
    with pytest.raises(StoreError, match="symbolic link"):
        StateStore(link)
    dangling = tmp_path / "dangling.sqlite3"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(StoreError, match="symbolic link"):
        StateStore(dangling)
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_or_a_file_open_to_others_is_refused(tmp_path: Path, store_path: Path) -> None:
    with pytest.raises(StoreError, match="not a regular file"):
        StateStore(tmp_path)
    StateStore(store_path).close()
    store_path.chmod(0o644)
    with pytest.raises(StoreError, match="accessible by other users"):
        StateStore(store_path)


@pytest.mark.parametrize("content", [b"this is no database\n" * 20, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_corrupt_file_is_refused(store_path: Path, content: bytes) -> None:
    store_path.write_bytes(content)
    store_path.chmod(0o600)
    with pytest.raises(StoreError, match="not a blindmatch store") as info:
        StateStore(store_path)
    assert "\n" not in str(info.value)


def test_another_sqlite_database_is_refused(store_path: Path) -> None:
    db = sqlite3.connect(store_path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.commit()
    db.close()
    store_path.chmod(0o600)
    with pytest.raises(StoreError, match="not a blindmatch store"):
        StateStore(store_path)


def test_a_newer_schema_is_refused_and_left_alone(store_path: Path) -> None:
    StateStore(store_path).close()
    db = sqlite3.connect(store_path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreVersionError, match="newer than this blindmatch knows"):
        StateStore(store_path)
    db = sqlite3.connect(store_path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION + 1
    )
    db.close()


def _as_another_user(fn: Callable[[], None]) -> str:
    """Run ``fn``: in a child process as ``nobody`` when we are root (root ignores folder permissions).
    Returns the type and message of what it raised ('' if nothing)."""
    if os.name != "posix" or os.geteuid() != 0:
        try:
            fn()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return ""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        text = ""
        try:
            os.setgid(65534)
            os.setuid(65534)
            fn()
        except BaseException as exc:
            text = f"{type(exc).__name__}: {exc}"
        finally:
            os.write(w, text.encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        text = fh.read().decode()
    os.waitpid(pid, 0)
    return text


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_folder_gives_a_clear_error() -> None:
    root = Path(tempfile.mkdtemp(prefix="blindmatch-ro-"))  # not under pytest's 0700 folders
    try:
        root.chmod(0o755)
        (root / "ro").mkdir()
        existing = root / "ro" / "old.sqlite3"
        StateStore(existing).close()
        if os.geteuid() == 0:
            os.chown(existing, 65534, 65534)
        (root / "ro").chmod(0o555)
        new = _as_another_user(lambda: StateStore(root / "ro" / "new.sqlite3").close())
        assert new.startswith("StoreError: cannot create the store") and "ermission denied" in new
        old = _as_another_user(lambda: StoredSessionBudget(StateStore(existing), 1).charge("peer:a"))
        assert old.startswith("StoreError:") and "its folder" in old, old
    finally:
        (root / "ro").chmod(0o755)
        shutil.rmtree(root)


def _connect(lab: Path, w: Path, port: str) -> subprocess.CompletedProcess[str]:
    return cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
               "--peer", "lab-b", "--port", port, "-i", str(lab / "a.csv"), "--purpose", "test",
               "--max-items", "8", "--out-dir", str(w / "a-out"), cwd=w)  # fmt: skip


def _one_session(lab: Path, w: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Start ``serve`` (one session, one per peer per day, outputs and store in ``w/b-out``), connect once."""
    (w / "port").unlink(missing_ok=True)  # the last run's port file
    server, port = serve(lab, w, "b.csv", 8, "--sessions-per-day", "1")
    try:
        r = _connect(lab, w, port)
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0 and "Traceback" not in err, err
    return r, err


def test_serve_refuses_an_unusable_store_before_listening(tmp_path: Path) -> None:
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "b.csv", [("email", "b@example.org")])
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 100)
    bad.chmod(0o600)
    r = cli("serve", "--identity", str(tmp_path / "b.pem"), "--peers", str(tmp_path / "b-peers.json"),
            "-i", str(tmp_path / "b.csv"), "--port-file", str(tmp_path / "port"), "--store", str(bad),
            "--out-dir", str(tmp_path / "b-out"), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 5 and "not a blindmatch store" in r.stderr, r.stderr
    assert not (tmp_path / "port").exists()


def test_serve_restarted_keeps_the_daily_budget(tmp_path: Path) -> None:
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "a.csv", [("email", "a@example.org"), ("email", "shared@example.org")])
    write_csv(tmp_path / "b.csv", [("email", "b@example.org"), ("email", "shared@example.org")])
    first, _ = _one_session(tmp_path, tmp_path)
    assert first.returncode == 0, first.stderr
    second, err = _one_session(tmp_path, tmp_path)  # a restart with the same --out-dir: the same store
    assert second.returncode == 4 and "budget" in second.stderr, second.stderr
    assert "refused" in err
    assert (tmp_path / "b-out" / "blindmatch-store.sqlite3").exists()  # the default store: in --out-dir
