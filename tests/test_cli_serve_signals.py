"""``serve`` under the signals service managers and people send: SIGTERM and Ctrl-C (SIGINT) end running
sessions with signed failed records and exit with the documented codes (143, 130)."""

from __future__ import annotations

import json
import signal
import socket
import struct
import time
from pathlib import Path

import pytest
from cli_support import make_lab_keys, serve, write_csv

from blindmatch.session import Identity, InitiatorSession, verify_record


def _stalled_session(w: Path, port: str) -> socket.socket:
    """Send a valid hello from lab A, read the accept, then stall (the session stays running)."""
    a = Identity.load(w / "a.pem")
    b = Identity.load(w / "b.pem")
    init = InitiatorSession(a, b.public, items_by_kind={"email": ["x@example.org"]}, max_items=64,
                            purpose="signal test")  # fmt: skip
    hello = init.start()
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    sock.sendall(struct.pack(">I", len(hello)) + hello)
    (n,) = struct.unpack(">I", sock.recv(4, socket.MSG_WAITALL))
    assert len(sock.recv(n, socket.MSG_WAITALL)) == n  # the accept: the server's session is running
    return sock


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_running_sessions_with_signed_records(tmp_path: Path, signum: int, code: int) -> None:
    w = tmp_path
    make_lab_keys(w)
    write_csv(w / "b.csv", [("email", "x@example.org"), ("email", "y@example.org")])
    proc, port = serve(w, w, "b.csv", 64, "--session-timeout", "600", "--timeout", "600")
    sock = _stalled_session(w, port)
    try:
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        sock.close()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    records = list((w / "b-out").glob("*record.json"))
    assert len(records) == 1
    rec = json.loads(records[0].read_text())
    verify_record(rec, Identity.load(w / "b.pem").public)
    outcome = rec["outcome"]
    assert outcome["status"] == "failed" and outcome["error"] == "aborted"
    assert outcome["reason"] == ("SIGTERM" if signum == signal.SIGTERM else "interrupted (Ctrl-C)")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_an_idle_server_with_its_code(tmp_path: Path, signum: int, code: int) -> None:
    w = tmp_path
    make_lab_keys(w)
    write_csv(w / "b.csv", [("email", "x@example.org")])
    proc, _ = serve(w, w, "b.csv", 64)
    time.sleep(0.2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and not list((w / "b-out").glob("*record.json"))
