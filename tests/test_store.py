"""The on-disk store of a server's state (issue 11, D): the daily session budget outlives a restart."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_support import cli, make_lab_keys, serve, write_csv


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


def test_serve_restarted_keeps_the_daily_budget(tmp_path: Path) -> None:
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "a.csv", [("email", "a@example.org"), ("email", "shared@example.org")])
    write_csv(tmp_path / "b.csv", [("email", "b@example.org"), ("email", "shared@example.org")])
    first, _ = _one_session(tmp_path, tmp_path)
    assert first.returncode == 0, first.stderr
    second, err = _one_session(tmp_path, tmp_path)  # a restart with the same --out-dir: the same store
    assert second.returncode == 4 and "budget" in second.stderr, second.stderr
    assert "refused" in err
