"""The state of a file exchange in progress: its secrets stay out of reprs; it keeps how the inputs are
read and a keyed hash of what they gave, never an indicator value; changed inputs are refused."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import cli, make_lab_keys, write_csv

from blindmatch.canonical import canonicalize
from blindmatch.cli._step_state import StepState
from blindmatch.indicator_set import InputSpec


def test_step_state_repr_shows_neither_seed_nor_inputs() -> None:
    seed = bytes(range(32))
    inputs = InputSpec.of(["secret-folder/lab.csv"], errors="skip")
    state = StepState(role="responder", seed=seed, identity="b.pem", inputs=inputs, inputs_digest="ab" * 32)
    text = repr(state)
    assert "responder" in text and "b.pem" in text
    for secret in (repr(seed), seed.hex(), "secret-folder", "InputSpec", "seed=", "inputs=", "ab" * 32):
        assert secret not in text


# ---- the state file keeps how the inputs are read, not what they hold ---------------------------------

A_ROWS = [
    ("email", "Alice.Smith+x@GoogleMail.com"),
    ("ip", "::ffff:203.0.113.7"),
    ("account", "GitHub:octo-cat"),
]
A_ROWS += [("email", f"only-a-{i}@example.net") for i in range(5)]
B_ROWS = [("email", "alicesmith@gmail.com"), ("ip", "203.0.113.7"), ("domain", "b.example")]


def _start(w: Path) -> None:
    make_lab_keys(w)
    write_csv(w / "a.csv", A_ROWS)
    write_csv(w / "b.csv", B_ROWS)
    r = cli("psi", "initiate", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
            "-i", "a.csv", "--purpose", "t", "--max-items", "64", "--state", "a.state", cwd=w)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = cli("psi", "respond", "--identity", "b.pem", "--peers", "b-peers.json", "-i", "b.csv",
            "--in", "a-msg0.bin", "--state", "b.state", "--max-own-items", "64", cwd=w)  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_state_file_holds_no_indicator_value(tmp_path: Path) -> None:
    _start(tmp_path)
    for name, rows in (("a.state", A_ROWS), ("b.state", B_ROWS)):
        text = (tmp_path / name).read_text()
        doc = json.loads(text)
        assert (
            doc["inputs"]["paths"] == [str(tmp_path / name[0]) + ".csv"] and len(doc["inputs_digest"]) == 64
        )
        for kind, value in rows:
            assert value not in text and value.lower() not in text
            assert canonicalize(kind, value) not in text
        for word in ("alicesmith", "octo-cat", "203.0.113.7", "only-a-"):
            assert word not in text.lower()


def test_inputs_changed_between_steps_are_refused(tmp_path: Path) -> None:
    w = tmp_path
    _start(w)
    original = (w / "a.csv").read_bytes()
    write_csv(w / "a.csv", [*A_ROWS, ("email", "sneaked-in@example.org")])
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)
    assert r.returncode == 5 and "differ from those this exchange began with" in r.stderr
    assert (w / "a.state").exists()  # kept: restore the inputs and go on
    (w / "a.csv").unlink()
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)
    assert r.returncode == 5 and "cannot read" in r.stderr and (w / "a.state").exists()
    (w / "a.csv").write_bytes(original)
    other = w / "elsewhere"
    other.mkdir()
    r = cli("psi", "continue", "--state", str(w / "a.state"), "--in", str(w / "b-msg1.bin"), cwd=other)
    assert r.returncode == 0, r.stderr  # the paths are absolute: any working folder will do
    write_csv(w / "b.csv", B_ROWS[:2])  # the responder's side too
    r = cli("psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", cwd=w)
    assert r.returncode == 5 and "differ" in r.stderr and (w / "b.state").exists()
    write_csv(w / "b.csv", B_ROWS)
    assert cli("psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", cwd=w).returncode == 0
    r = cli("psi", "finish", "--state", "a.state", "--in", "b-msg3.bin", cwd=w)
    assert r.returncode == 0, r.stderr
    rep = json.loads((w / "a-report.json").read_text())
    assert {(m["kind"], m["value"]) for m in rep["matches"]} == {
        ("email", "Alice.Smith+x@GoogleMail.com"),
        ("ip", "::ffff:203.0.113.7"),
    }


def test_unreadable_input_is_a_local_error(tmp_path: Path) -> None:
    make_lab_keys(tmp_path)
    r = cli("psi", "initiate", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
            "-i", "missing.csv", "--purpose", "t", "--state", "a.state", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 5 and "cannot read" in r.stderr and not (tmp_path / "a.state").exists()
    r = cli("inspect", "-i", str(tmp_path), cwd=tmp_path)  # a folder
    assert r.returncode == 5


# ---- a state is used once: the same message gets the same answer, another one ends the exchange -------


def test_rerunning_a_step_with_the_same_message_writes_the_same_answer(tmp_path: Path) -> None:
    w = tmp_path
    _start(w)
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)
    assert r.returncode == 0, r.stderr
    first = (w / "a-msg2.bin").read_bytes()
    state_after = (w / "a.state").read_bytes()
    (w / "a-msg2.bin").unlink()
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)  # e.g. after a crash
    assert r.returncode == 0, r.stderr
    assert (w / "a-msg2.bin").read_bytes() == first  # byte-identical: no second evaluation
    assert json.loads((w / "a.state").read_bytes())["next_seq"] == json.loads(state_after)["next_seq"]
    r = cli("psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", cwd=w)
    assert r.returncode == 0, r.stderr
    r = cli("psi", "finish", "--state", "a.state", "--in", "b-msg3.bin", cwd=w)
    assert r.returncode == 0, r.stderr
    assert json.loads((w / "a-report.json").read_text())["count"] == 2


def test_a_different_message_for_a_consumed_step_is_refused(tmp_path: Path) -> None:
    w = tmp_path
    _start(w)
    assert cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w).returncode == 0
    # the initiator's state has consumed message 1: a changed copy of it is not answered again
    bad = bytearray((w / "b-msg1.bin").read_bytes())
    bad[-1] ^= 1
    (w / "forged.bin").write_bytes(bytes(bad))
    before = (w / "a-msg2.bin").read_bytes()
    r = cli("psi", "continue", "--state", "a.state", "--in", "forged.bin", cwd=w)
    assert r.returncode == 4, r.stderr  # a peer error; the exchange is over
    assert not (w / "a.state").exists() and (w / "a-msg2.bin").read_bytes() == before
    assert not (w / "a-msg4.bin").exists() and not (w / "a-msg3.bin").exists()


def test_state_of_another_identity_is_refused(tmp_path: Path) -> None:
    w = tmp_path
    _start(w)
    (w / "a.pem").rename(w / "a-old.pem")
    assert cli("keygen", "a.pem", cwd=w).returncode == 0
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)
    assert r.returncode == 5 and "cannot resume" in r.stderr and (w / "a.state").exists()


# ---- operator mistakes and hostile folders (from the adversarial review) --------------------------------


def test_a_symlinked_state_file_is_refused_and_abort_never_follows_links(tmp_path: Path) -> None:
    w = tmp_path
    _start(w)
    (w / "real").mkdir()
    (w / "a.state").rename(w / "real" / "a.state")
    (w / "a.state").symlink_to(w / "real" / "a.state")
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)
    assert r.returncode == 5 and "symbolic link" in r.stderr
    assert (w / "real" / "a.state").read_bytes()[:1] == b"{"  # untouched, not replaced behind the link
    victim = w / "identity-copy.pem"
    victim.write_bytes((w / "a.pem").read_bytes())
    (w / "evil.state").symlink_to(victim)
    r = cli("psi", "abort", "--state", "evil.state", cwd=w)
    assert r.returncode == 5 and victim.read_bytes() == (w / "a.pem").read_bytes()
    (w / "notes.txt").write_text("not a state file\n")
    (w / "notes.txt").chmod(0o600)
    r = cli("psi", "abort", "--state", "notes.txt", cwd=w)
    assert r.returncode == 5 and (w / "notes.txt").read_text() == "not a state file\n"
    r = cli("psi", "abort", "--state", str(w / "real" / "a.state"), cwd=w)
    assert r.returncode == 0 and not (w / "real" / "a.state").exists()


def test_a_tampered_policy_in_a_state_file_is_a_clean_local_error(tmp_path: Path) -> None:
    w = tmp_path
    _start(w)
    for bad in ("nonsense", {"modes": ["mutual"]}, {"allowed_peers": 3}):
        doc = json.loads((w / "b.state").read_text())
        doc["policy"] = bad
        (w / "bad.state").write_text(json.dumps(doc))
        (w / "bad.state").chmod(0o600)
        r = cli("psi", "continue", "--state", "bad.state", "--in", "a-msg2.bin", cwd=w)
        assert r.returncode == 5 and "unreadable state file" in r.stderr and "Traceback" not in r.stderr


def test_an_old_copy_of_the_initiators_state_cannot_take_another_response(tmp_path: Path) -> None:
    """Review finding: a state file restored from an old copy must not evaluate the initiator's scalar on a
    second, different response; the steps ledger beside the state files refuses it, state kept."""
    w = tmp_path
    _start(w)
    assert cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w).returncode == 0
    backup = (w / "a.state").read_bytes()  # the operator's copy, against the advice
    assert cli("psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", cwd=w).returncode == 0
    assert cli("psi", "finish", "--state", "a.state", "--in", "b-msg3.bin", cwd=w).returncode == 0
    (w / "a.state").write_bytes(backup)
    (w / "a.state").chmod(0o600)
    other = bytearray((w / "b-msg3.bin").read_bytes())
    other[-1] ^= 1  # any other response (the ledger refuses before anything is checked or computed)
    (w / "other.bin").write_bytes(bytes(other))
    r = cli("psi", "finish", "--state", "a.state", "--in", "other.bin", cwd=w)
    assert r.returncode == 5 and "already took a different message 3" in r.stderr
    assert (w / "a.state").exists()
    ledger = (w / ".blindmatch-steps").read_text()
    for secret in (backup.decode()[:40], "alicesmith", "octo-cat"):
        assert secret not in ledger
    # the very same response is still answered the same way (a re-run), not refused
    r = cli("psi", "finish", "--state", "a.state", "--in", "b-msg3.bin", cwd=w)
    assert r.returncode == 0, r.stderr
