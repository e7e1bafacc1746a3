"""End-to-end exchanges with the ``blindmatch`` command in subprocesses: the file flow and the TCP flow in
every mode, and the failure cases (each a clear message and exit code, no traceback, no state left)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import cli, serve, write_csv

from blindmatch.canonical import canonicalize
from blindmatch.session import Identity, PeerStore, verify_record

MODES = ("intersection", "mutual", "cardinality", "mutual-cardinality")
SHARED = [
    ("email", "Alice.Smith+x@GoogleMail.com", "alicesmith@gmail.com"),
    ("email", "BOB@Example.ORG", "bob@example.org"),
    ("ip", "::ffff:203.0.113.7", "203.0.113.7"),
    ("ip", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ("domain", "Bücher.Example.", "xn--bcher-kva.example"),
    ("url", "HTTP://Evil.Example:80/a/./b/../%7Ex", "http://evil.example/a/~x"),
    ("phone", "+1 (202) 555-0143", "+12025550143"),
    ("account", "GitHub:octo-cat", "github:octo-cat"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("labs")
    a, b, c = Identity.generate(), Identity.generate(), Identity.generate()
    for name, ident in (("a", a), ("b", b), ("c", c)):
        ident.save(d / f"{name}.pem")
    PeerStore().save(d / "empty-peers.json")
    pa, pb, pwrong = PeerStore(), PeerStore(), PeerStore()
    pa.add("lab-b", b.public)
    pb.add("lab-a", a.public)
    pwrong.add("lab-b", c.public)  # the initiator believes c is lab-b
    pa.save(d / "a-peers.json")
    pb.save(d / "b-peers.json")
    pwrong.save(d / "wrong-peers.json")
    pc = PeerStore()
    pc.add("lab-b", b.public)
    pc.save(d / "c-peers.json")  # mallory (c) knows b, but b does not know c
    only_a = [("email", f"a{i}@example.net") for i in range(20)]
    only_a += [("ip", f"198.51.100.{i}") for i in range(1, 8)]
    only_b = [("email", f"b{i}@example.net") for i in range(25)]
    only_b += [("domain", f"b{i}.example") for i in range(5)]
    a_rows = [(k, canon) for k, _, canon in SHARED] + only_a + [("email", "not an email")]
    b_rows = [(k, messy) for k, messy, _ in SHARED] + only_b
    write_csv(d / "lab_a.csv", a_rows)
    write_csv(d / "lab_b.csv", b_rows)
    for k, messy, canon in SHARED:
        assert canonicalize(k, messy) == canon
    return d


def _expected() -> set[tuple[str, str]]:
    return {(k, c) for k, _, c in SHARED}


def _check_reports(init_report: dict, resp_report: dict | None, mode: str) -> None:  # type: ignore[type-arg]
    shared = _expected()
    assert init_report["mode"] == mode
    if mode.endswith("cardinality"):
        assert init_report["count"] == len(shared) and init_report["matches"] == []
    else:
        assert {(m["kind"], m["canonical"]) for m in init_report["matches"]} == shared
        assert init_report["count"] == len(shared)
    if resp_report is not None:
        if mode == "mutual":
            assert {(m["kind"], m["canonical"]) for m in resp_report["matches"]} == shared
            # The responder's report shows its own spellings.
            assert {m["value"] for m in resp_report["matches"]} == {messy for _, messy, _ in SHARED}
        elif mode == "mutual-cardinality":
            assert resp_report["count"] == len(shared) and resp_report["matches"] == []
        else:
            assert resp_report["count"] is None and resp_report["matches"] == []


def _check_records(rec_a: Path, rec_b: Path, lab: Path) -> None:
    ra = verify_record(rec_a.read_text(), Identity.load(lab / "a.pem").public)
    rb = verify_record(rec_b.read_text(), Identity.load(lab / "b.pem").public)
    assert ra["transcript_hash"] == rb["transcript_hash"]
    assert ra["outcome"]["status"] == rb["outcome"]["status"] == "completed"
    for r in (rec_a, rec_b):
        text = r.read_text()
        assert "alicesmith" not in text and "octo-cat" not in text  # no indicators in shareable records


@pytest.mark.parametrize("mode", MODES)
def test_file_flow_every_mode(lab: Path, tmp_path: Path, mode: str) -> None:
    w = tmp_path
    common_a = ["--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json")]
    common_b = ["--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json")]
    r = cli("psi", "initiate", *common_a, "--peer", "lab-b", "-i", str(lab / "lab_a.csv"), "--skip-invalid",
            "--mode", mode, "--purpose", "test", "--max-items", "64", "--state", "a.state", cwd=w)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((w / "a.state").stat().st_mode) == 0o600
    r = cli("psi", "respond", *common_b, "-i", str(lab / "lab_b.csv"), "--in", "a-msg0.bin",
            "--state", "b.state", "--max-own-items", "64", cwd=w)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((w / "b.state").stat().st_mode) == 0o600
    assert cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w).returncode == 0
    assert cli("psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", cwd=w).returncode == 0
    r = cli("psi", "finish", "--state", "a.state", "--in", "b-msg3.bin", cwd=w)
    assert r.returncode == 0, r.stderr
    if mode.startswith("mutual"):
        assert (w / "b.state").exists()
        r = cli("psi", "finish", "--state", "b.state", "--in", "a-msg4.bin", cwd=w)
        assert r.returncode == 0, r.stderr
    assert not (w / "a.state").exists() and not (w / "b.state").exists()
    rep_a, rep_b = (json.loads((w / f"{x}-report.json").read_text()) for x in "ab")
    _check_reports(rep_a, rep_b, mode)
    assert stat.S_IMODE((w / "a-report.json").stat().st_mode) == 0o600
    _check_records(w / "a-record.json", w / "b-record.json", lab)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _serve(lab: Path, w: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    return serve(lab, w, "lab_b.csv", 64, *extra)


def _connect(
    lab: Path, w: Path, port: str, *extra: str, identity: str = "a", peers: str = "a-peers.json"
) -> subprocess.CompletedProcess[str]:
    return cli("connect", "--identity", str(lab / f"{identity}.pem"), "--peers", str(lab / peers),
               "--peer", "lab-b", "--port", port, "-i", str(lab / "lab_a.csv"), "--skip-invalid",
               "--purpose", "test", "--max-items", "64", "--out-dir", str(w / "a-out"), *extra, cwd=w)


@pytest.mark.parametrize("mode", MODES)
def test_tcp_flow_every_mode(lab: Path, tmp_path: Path, mode: str) -> None:
    server, port = _serve(lab, tmp_path)
    try:
        r = _connect(lab, tmp_path, port, "--mode", mode)
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0, r.stderr
    assert server.returncode == 0, err
    assert "Traceback" not in err
    rep_b = next((tmp_path / "b-out").glob("*-report.json"))
    rep_a = json.loads(next((tmp_path / "a-out").glob("*-report.json")).read_text())
    _check_reports(rep_a, json.loads(rep_b.read_text()), mode)
    rec_a = next((tmp_path / "a-out").glob("*-record.json"))
    _check_records(rec_a, next((tmp_path / "b-out").glob("*-record.json")), lab)


# ---- failure cases -----------------------------------------------------------------------------------


def test_malformed_input_file(lab: Path, tmp_path: Path) -> None:
    init = ("psi", "initiate", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
            "--peer", "lab-b", "--purpose", "t", "--state", "a.state")  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text('kind,value\nemail,"unterminated\n')
    r = cli(*init, "-i", str(bad), cwd=tmp_path)
    assert r.returncode == 3 and "bad.csv" in r.stderr and "line" in r.stderr
    assert not (tmp_path / "a.state").exists()
    stix = tmp_path / "b.json"
    bundle = {"type": "bundle", "objects": [{"type": "indicator", "pattern": "[x:y = 'z'"}]}
    stix.write_text(json.dumps(bundle))
    r = cli(*init, "-i", str(stix), cwd=tmp_path)
    assert r.returncode == 3 and "objects[0]" in r.stderr
    r = cli(*init, "-i", str(lab / "lab_a.csv"), cwd=tmp_path)
    assert r.returncode == 3 and "do not canonicalize" in r.stderr and "not an email" not in r.stderr


def _initiate(lab: Path, w: Path, identity: str = "a", peers: str = "a-peers.json") -> None:
    r = cli("psi", "initiate", "--identity", str(lab / f"{identity}.pem"), "--peers", str(lab / peers),
            "--peer", "lab-b", "-i", str(lab / "lab_a.csv"), "--skip-invalid", "--purpose", "t",
            "--max-items", "64", "--state", "a.state", cwd=w)  # fmt: skip
    assert r.returncode == 0, r.stderr


def _respond(lab: Path, w: Path) -> subprocess.CompletedProcess[str]:
    return cli("psi", "respond", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json"),
               "-i", str(lab / "lab_b.csv"), "--in", "a-msg0.bin", "--state", "b.state",
               "--max-own-items", "64", cwd=w)  # fmt: skip


def test_unknown_peer_key_file_flow(lab: Path, tmp_path: Path) -> None:
    _initiate(lab, tmp_path, identity="c", peers="c-peers.json")
    r = _respond(lab, tmp_path)
    assert r.returncode == 4 and "unknown key" in r.stderr
    assert not (tmp_path / "b.state").exists()
    rec = json.loads((tmp_path / "b-record.json").read_text())
    assert rec["outcome"]["status"] == "failed" and rec["outcome"]["error"] == "UnknownPeer"


def test_wrong_peer_key_file_flow(lab: Path, tmp_path: Path) -> None:
    _initiate(lab, tmp_path, peers="wrong-peers.json")  # addressed to c's key, sent to b
    r = _respond(lab, tmp_path)
    assert r.returncode == 4 and "another responder" in r.stderr
    assert not (tmp_path / "b.state").exists()


def test_tampered_message_file(lab: Path, tmp_path: Path) -> None:
    _initiate(lab, tmp_path)
    assert _respond(lab, tmp_path).returncode == 0
    assert cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=tmp_path).returncode == 0
    msg = bytearray((tmp_path / "a-msg2.bin").read_bytes())
    msg[-40] ^= 1  # inside the encrypted payload
    (tmp_path / "a-msg2.bin").write_bytes(bytes(msg))
    r = cli("psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", cwd=tmp_path)
    assert r.returncode == 4 and ("tampered" in r.stderr or "signature" in r.stderr)
    assert not (tmp_path / "b.state").exists()
    assert json.loads((tmp_path / "b-record.json").read_text())["outcome"]["status"] == "failed"
    # A truncated file fails the same way on the other side.
    (tmp_path / "b-msg1.bin").write_bytes(b"\x00\x01garbage")
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=tmp_path)
    assert r.returncode == 4
    assert not (tmp_path / "a.state").exists()


def test_state_file_problems(lab: Path, tmp_path: Path) -> None:
    r = cli("psi", "continue", "--state", "missing.state", "--in", "x.bin", cwd=tmp_path)
    assert r.returncode == 5 and "not found" in r.stderr
    _initiate(lab, tmp_path)
    os.chmod(tmp_path / "a.state", 0o644)
    (tmp_path / "x.bin").write_bytes(b"x")
    r = cli("psi", "continue", "--state", "a.state", "--in", "x.bin", cwd=tmp_path)
    assert r.returncode == 5 and "other users" in r.stderr
    r = cli("psi", "abort", "--state", "a.state", cwd=tmp_path)
    assert r.returncode == 0 and not (tmp_path / "a.state").exists()


def test_busy_port(lab: Path, tmp_path: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        port = str(s.getsockname()[1])
        r = cli("serve", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json"),
                "-i", str(lab / "lab_b.csv"), "--port", port, cwd=tmp_path)  # fmt: skip
    finally:
        s.close()
    assert r.returncode == 5 and "already in use" in r.stderr


@pytest.mark.parametrize(
    ("identity", "peers", "server_says"),
    [("c", "c-peers.json", "unknown key"), ("a", "wrong-peers.json", "another responder")],
)
def test_unknown_or_wrong_peer_over_tcp(
    lab: Path, tmp_path: Path, identity: str, peers: str, server_says: str
) -> None:
    server, port = _serve(lab, tmp_path)
    try:
        r = _connect(lab, tmp_path, port, identity=identity, peers=peers)
        assert r.returncode == 4 and "failed" in r.stderr
        assert not list((tmp_path / "a-out").glob("*report.json"))
        # neither an unknown key's hello nor one addressed to another responder (anyone could forward
        # one) counts toward --max-sessions: an honest session still runs
        assert _connect(lab, tmp_path, port).returncode == 0
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 4 and server_says in err and "Traceback" not in err


def test_unreachable_peer(lab: Path, tmp_path: Path) -> None:
    r = _connect(lab, tmp_path, str(_free_port()))
    assert r.returncode == 4 and "cannot connect" in r.stderr


@pytest.fixture
def fake_server() -> Iterator[tuple[int, list[str]]]:
    """A server that reads one frame, then either closes (``close``) or stays silent (``stall``)."""
    behaviour: list[str] = ["close"]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = int(srv.getsockname()[1])

    def handle() -> None:
        conn, _ = srv.accept()
        with conn:
            header = conn.recv(4)
            n = int.from_bytes(header, "big")
            got = 0
            while got < n:
                chunk = conn.recv(n - got)
                if not chunk:
                    break
                got += len(chunk)
            if behaviour[0] == "stall":
                time.sleep(5)
            else:
                conn.sendall(b"\x00\x00\x01\x00partial")  # announce 256 bytes, send 7, hang up

    t = threading.Thread(target=handle, daemon=True)
    t.start()
    yield port, behaviour
    srv.close()


def test_server_disconnects_midway(lab: Path, tmp_path: Path, fake_server: tuple[int, list[str]]) -> None:
    port, _ = fake_server
    r = _connect(lab, tmp_path, str(port))
    assert r.returncode == 4 and "closed the connection" in r.stderr


def test_server_stalls(lab: Path, tmp_path: Path, fake_server: tuple[int, list[str]]) -> None:
    port, behaviour = fake_server
    behaviour[0] = "stall"
    r = _connect(lab, tmp_path, str(port), "--timeout", "1")
    assert r.returncode == 4 and "no data from the peer" in r.stderr


def test_client_disconnects_midway(lab: Path, tmp_path: Path) -> None:
    server, port = _serve(lab, tmp_path, "--timeout", "5")
    try:
        with socket.create_connection(("127.0.0.1", int(port))) as s:
            s.sendall(b"\x00\x00\x10\x00only a few bytes")
        # that connection never started a session (it does not count toward --max-sessions 1): an
        # honest session after it ends the server
        assert _connect(lab, tmp_path, port).returncode == 0
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 4 and "closed the connection" in err and "Traceback" not in err


def test_policy_refusal_and_daily_budget_over_tcp(lab: Path, tmp_path: Path) -> None:
    server, port = _serve(lab, tmp_path, "--allow-mode", "mutual", "--sessions-per-day", "1")
    # max-sessions is 1: the refused session ends it.
    try:
        r = _connect(lab, tmp_path, port, "--mode", "intersection")
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 4 and "not allowed" in r.stderr
    assert server.returncode == 0 and "refused" in err
    rec = json.loads(next((tmp_path / "a-out").glob("*-record.json")).read_text())
    assert rec["outcome"]["status"] == "refused" and rec["own_set_sent"] is False

    port_file = tmp_path / "port2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "blindmatch", "serve", "--identity", str(lab / "b.pem"), "--peers",
         str(lab / "b-peers.json"), "-i", str(lab / "lab_b.csv"), "--max-sessions", "2",
         "--sessions-per-day", "1", "--max-own-items", "64",
         "--port-file", str(port_file), "--out-dir", str(tmp_path / "b2")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        p2 = port_file.read_text().strip()
        assert _connect(lab, tmp_path, p2).returncode == 0
        second = _connect(lab, tmp_path, p2)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert second.returncode == 4 and "budget" in second.stderr


@pytest.mark.parametrize("mode", ["intersection", "mutual"])
def test_tcp_flow_ot_engine(lab: Path, tmp_path: Path, mode: str) -> None:
    server, port = _serve(lab, tmp_path, "--allow-engine", "dh", "--allow-engine", "ot")
    try:
        r = _connect(lab, tmp_path, port, "--mode", mode, "--engine", "ot")
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0, r.stderr
    assert server.returncode == 0, err
    rep_b = next((tmp_path / "b-out").glob("*-report.json"))
    rep_a = json.loads(next((tmp_path / "a-out").glob("*-report.json")).read_text())
    _check_reports(rep_a, json.loads(rep_b.read_text()), mode)
    rec_a = json.loads(next((tmp_path / "a-out").glob("*-record.json")).read_text())
    assert rec_a["versions"]["psi_suite"].startswith("blindmatch-psi-ot-v1/")


def test_ot_engine_refused_by_policy_and_by_file_steps(lab: Path, tmp_path: Path) -> None:
    server, port = _serve(lab, tmp_path)  # the default policy: the DH engine only
    try:
        r = _connect(lab, tmp_path, port, "--engine", "ot")
        server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 4 and "engine" in r.stderr
    init = cli("psi", "initiate", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
               "--peer", "lab-b", "-i", str(lab / "lab_a.csv"), "--skip-invalid", "--purpose", "t",
               "--max-items", "64", "--engine", "ot", "--state", "s.state", cwd=tmp_path)  # fmt: skip
    assert init.returncode == 2 and "OT engine" in init.stderr
