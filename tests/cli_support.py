"""Helpers shared by the end-to-end CLI tests: run the command, write inputs, start a server."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

from blindmatch.session import Identity, PeerStore


def cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m blindmatch ARGS``; no user or peer error may print a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "blindmatch", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    """A ``kind,value`` CSV input file."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["kind", "value"])
        w.writerows(rows)


def serve(lab: Path, w: Path, inputs: str, max_own: int, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start lab B's ``serve`` for one session on a free loopback port; returns (process, port)."""
    port_file = w / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "blindmatch", "serve", "--identity", str(lab / "b.pem"), "--peers",
         str(lab / "b-peers.json"), "-i", str(lab / inputs), "--max-sessions", "1", "--port-file",
         str(port_file), "--out-dir", str(w / "b-out"), "--max-own-items", str(max_own), *extra],
        cwd=w, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            _, err = proc.communicate()
            raise AssertionError(f"server did not start: {err}")
        time.sleep(0.05)
    return proc, port_file.read_text().strip()


def make_lab_keys(d: Path) -> tuple[Identity, Identity]:
    """Identities ``a.pem`` and ``b.pem`` in ``d``, each trusting the other (``a-peers.json`` names
    ``lab-b``, ``b-peers.json`` names ``lab-a``)."""
    a, b = Identity.generate(), Identity.generate()
    a.save(d / "a.pem")
    b.save(d / "b.pem")
    pa, pb = PeerStore(), PeerStore()
    pa.add("lab-b", b.public)
    pb.add("lab-a", a.public)
    pa.save(d / "a-peers.json")
    pb.save(d / "b-peers.json")
    return a, b
