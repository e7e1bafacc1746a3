"""Issue 11, sections D and F: what the exchange commands print and write, and where. The file flow runs
in-process (``main``); the TCP cases in subprocesses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv

from blindmatch.cli import main

A_ROWS = [("email", "alicesmith@gmail.com"), ("ip", "203.0.113.7")] + [
    ("email", f"only-a-{i}@example.net") for i in range(5)
]
B_ROWS = [("email", "alicesmith@gmail.com"), ("ip", "203.0.113.7"), ("domain", "b.example")]


@pytest.fixture
def w(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "a.csv", A_ROWS)
    write_csv(tmp_path / "b.csv", B_ROWS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def initiate(*extra: str, mode: str = "mutual") -> int:
    return main(["psi", "initiate", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
                 "-i", "a.csv", "--purpose", "t", "--max-items", "64", "--mode", mode, "--state", "a.state",
                 *extra])  # fmt: skip


def respond(*extra: str) -> int:
    return main(["psi", "respond", "--identity", "b.pem", "--peers", "b-peers.json", "-i", "b.csv",
                 "--message", "a-msg0.bin", "--state", "b.state", "--max-own-items", "64",
                 *extra])  # fmt: skip


def step(side: str, n: int, *extra: str) -> int:
    other = "b" if side == "a" else "a"
    return main(["psi", "continue", "--state", f"{side}.state", "--message", f"{other}-msg{n}.bin", *extra])


# ---- item F: -q is quiet -----------------------------------------------------------------------------


def test_quiet_file_flow_prints_nothing(w: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert initiate("-q") == 0
    assert respond("-q") == 0
    assert step("a", 1, "-q") == 0
    assert step("b", 2, "-q") == 0
    assert step("a", 3, "-q") == 0
    assert step("b", 4, "-q") == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert (w / "a-report.json").exists() and (w / "b-report.json").exists()


def test_quiet_serve_and_connect_print_nothing(w: Path) -> None:
    server, port = serve(w, w, "b.csv", 64, "-q")
    try:
        r = cli("connect", "-q", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
                "--port", port, "-i", "a.csv", "--purpose", "t", "--max-items", "64", "--out-dir", "a-out",
                cwd=w)  # fmt: skip
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0 and server.returncode == 0, (r.stderr, err)
    assert (r.stdout, r.stderr) == ("", "")
    assert (out, err) == ("", "")


# ---- item D: --out refuses what is not a regular file; `-` is standard output ---------------------------


def test_out_dash_writes_the_message_on_stdout(w: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert initiate("--out", "-") == 0
    out, err = capsysbinary.readouterr()
    assert b"wrote message 0" in err
    assert out.startswith(b"BMS1") and b"wrote message" not in out
    assert not (w / "-").exists() and not (w / "a-msg0.bin").exists()
    (w / "a-msg0.bin").write_bytes(out)
    assert respond() == 0  # the message on stdout is the whole message


@pytest.mark.parametrize("target", ["symlink", "fifo", "folder"])
def test_out_refuses_a_target_that_is_not_a_regular_file(
    w: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = w / "target"
    victim = w / "victim.txt"
    victim.write_text("keep me\n")
    if target == "symlink":
        out.symlink_to(victim)
    elif target == "fifo":
        os.mkfifo(out)
    else:
        out.mkdir()
    assert initiate("--out", str(out)) == 5
    assert "not a regular file" in capsys.readouterr().err
    assert victim.read_text() == "keep me\n"
    assert out.is_symlink() if target == "symlink" else not out.is_file()
    assert not (w / "a.state").exists()  # refused before the exchange began


# ---- item D: output folders are checked before anything is sent; ours are written before the last message


def test_connect_checks_its_output_folder_before_sending_anything(w: Path) -> None:
    (w / "a-file").write_text("not a folder\n")
    server, port = serve(w, w, "b.csv", 64)
    try:
        r = cli("connect", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
                "--port", port, "-i", "a.csv", "--purpose", "t", "--max-items", "64",
                "--out-dir", "a-file/out", cwd=w, timeout=60)  # fmt: skip
        time.sleep(0.5)
        assert server.poll() is None  # the server never saw a session
    finally:
        server.kill()
        server.communicate()
    assert r.returncode == 5, r.stderr
    assert "a-file/out" in r.stderr
    outputs = [p for p in (w / "b-out").glob("*") if not p.name.startswith("blindmatch-store.sqlite3")]
    assert not outputs  # no report or record (the server's budget store is not an output)


@pytest.mark.parametrize("who", ["initiate", "respond"])
def test_psi_first_steps_check_their_output_folder(w: Path, who: str) -> None:
    (w / "a-file").write_text("not a folder\n")
    if who == "respond":
        assert initiate() == 0
        assert respond("--out-dir", "a-file/out") == 5
        assert not (w / "b-msg1.bin").exists() and not (w / "b.state").exists()
    else:
        assert initiate("--out-dir", "a-file/out") == 5
        assert not (w / "a-msg0.bin").exists() and not (w / "a.state").exists()


def test_psi_finish_writes_our_outputs_before_releasing_the_last_message(w: Path) -> None:
    assert initiate("--out-dir", "a-out") == 0
    assert respond() == 0
    assert step("a", 1) == 0
    assert step("b", 2) == 0
    if (w / "a-out").is_dir():
        (w / "a-out").rmdir()
    (w / "a-out").write_text("a file where the folder was\n")
    assert step("a", 3) == 5
    assert not (w / "a-msg4.bin").exists()  # the peer learns nothing we could not keep
    assert (w / "a.state").exists()  # kept: the step can be run again once the folder is fixed
    (w / "a-out").unlink()
    assert step("a", 3) == 0
    assert (w / "a-msg4.bin").exists() and (w / "a-out" / "record.json").exists()
    assert step("b", 4) == 0
    assert (w / "b-report.json").exists()


# ---- item D: a second connect keeps the first one's outputs --------------------------------------------


def test_two_connects_write_outputs_named_by_session(w: Path) -> None:
    server, port = serve(w, w, "b.csv", 64, "--max-sessions", "2")
    try:
        for _ in range(2):
            r = cli("connect", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
                    "--port", port, "-i", "a.csv", "--purpose", "t", "--max-items", "64",
                    "--out-dir", "a-out", cwd=w, timeout=60)  # fmt: skip
            assert r.returncode == 0, r.stderr
        server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    records = sorted((w / "a-out").glob("lab-b-*-record.json"))
    reports = sorted((w / "a-out").glob("lab-b-*-report.json"))
    assert len(records) == 2 and len(reports) == 2
    assert not (w / "a-out" / "record.json").exists()


# ---- item D: our own earlier message given to a step is a usage error; the state is kept -----------------


def test_our_own_message_is_a_usage_error_that_keeps_the_state(
    w: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert initiate() == 0
    assert respond() == 0
    a_state, b_state = (w / "a.state").read_bytes(), (w / "b.state").read_bytes()
    capsys.readouterr()
    assert main(["psi", "continue", "--state", "a.state", "--message", "a-msg0.bin"]) == 2
    assert main(["psi", "continue", "--state", "b.state", "--message", "b-msg1.bin"]) == 2
    err = capsys.readouterr().err
    assert err.count("is a message this side wrote") == 2, err
    assert (w / "a.state").read_bytes() == a_state and (w / "b.state").read_bytes() == b_state
    assert not list(w.glob("*record.json"))
    assert step("a", 1) == 0 and step("b", 2) == 0 and step("a", 3) == 0 and step("b", 4) == 0


# ---- item F: count-only and learn-nothing sides; a client the server does not know ----------------------


def test_count_only_modes_print_the_count_and_write_no_empty_matches(
    w: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert initiate(mode="cardinality") == 0
    assert respond() == 0
    assert step("a", 1) == 0 and step("b", 2) == 0
    capsys.readouterr()
    assert step("a", 3) == 0
    assert "shared indicators: 2" in capsys.readouterr().out
    assert (w / "a-report.json").exists() and (w / "b-record.json").exists()
    assert not list(w.glob("*matches.csv")) and not list(w.glob("*counts.csv"))


def test_a_client_the_server_does_not_know_is_told_so(w: Path) -> None:
    from blindmatch.session import Identity, PeerStore

    Identity.generate().save(w / "c.pem")
    store = PeerStore()
    store.add("lab-b", Identity.load(w / "b.pem").public)
    store.save(w / "c-peers.json")
    server, port = serve(w, w, "b.csv", 64)
    try:
        r = cli("connect", "--identity", "c.pem", "--peers", "c-peers.json", "--peer", "lab-b",
                "--port", port, "-i", "a.csv", "--purpose", "t", "--max-items", "64",
                "--out-dir", "c-out", cwd=w, timeout=60)  # fmt: skip
    finally:
        server.kill()
        server.communicate()
    assert r.returncode == 4
    assert "does not know or trust our key" in r.stderr, r.stderr
