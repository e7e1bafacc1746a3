"""Issue 11, section F: the command line checks its arguments before it reads any input, and ``-q``
is quiet. Run in-process (``main``), so each case costs milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import make_lab_keys, write_csv

from blindmatch.cli import main


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "a.csv", [("email", "a@example.org")])
    (tmp_path / "a.pem.pub").write_text("blindmatch-ed25519:AAAA\n")
    (tmp_path / "a.pem.pub").chmod(0o644)
    return tmp_path


BAD_ARGS = [
    ("connect", "--port", "99999"),
    ("connect", "--port", "-1"),
    ("connect", "--port", "80", "--timeout", "0"),
    ("connect", "--port", "80", "--timeout", "-3"),
    ("connect", "--port", "80", "--timeout", "nan"),
    ("connect", "--port", "80", "--max-items", "-5"),
    ("connect", "--port", "80", "--max-items", "0"),
    ("connect", "--port", "80", "--peer-max-items", "-1"),
    ("connect", "--port", "80", "--validity", "0"),
    ("connect", "--port", "80", "--workers", "0"),
    ("connect", "--port", "80", "--max-frame", "0"),
    ("serve", "--port", "65536"),
    ("serve", "--max-peer-items", "-5"),
    ("serve", "--max-own-items", "0"),
    ("serve", "--max-sessions", "0"),
    ("serve", "--sessions-per-day", "0"),
    ("serve", "--session-timeout", "0"),
    ("serve", "--handshake-timeout", "-1"),
    ("psi", "initiate", "--state", "s", "--max-items", "-5"),
    ("psi", "respond", "--state", "s", "--in", "m", "--workers", "-2"),
]


@pytest.mark.parametrize("bad", BAD_ARGS, ids=lambda a: " ".join(a))
def test_bad_numbers_are_usage_errors_before_any_file_is_read(
    bad: tuple[str, ...], lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the input file does not exist and the identity is the public key: only the argument may fail
    base = ["--identity", str(lab / "a.pem.pub"), "--peers", str(lab / "a-peers.json"),
            "-i", str(lab / "missing.csv")]  # fmt: skip
    if bad[0] == "connect" or bad[:2] == ("psi", "initiate"):
        base += ["--peer", "lab-b", "--purpose", "test"]
    rc = main([*bad, *base])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "missing.csv" not in err and "chmod" not in err


@pytest.mark.parametrize(
    "bad",
    [("bloom", "create", "f.bloom", "-n", "0"), ("bloom", "create", "f.bloom", "-n", "10", "-p", "1.5"),
     ("bloom", "create", "f.bloom", "-n", "10", "-p", "0")],
    ids=lambda a: " ".join(a),
)  # fmt: skip
def test_bad_bloom_parameters_are_usage_errors(bad: tuple[str, ...], tmp_path: Path) -> None:
    assert main([*bad[:2], str(tmp_path / bad[2]), *bad[3:]]) == 2
    assert not (tmp_path / bad[2]).exists()


def test_a_public_key_given_as_identity_is_named_as_such(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["psi", "initiate", "--identity", str(lab / "a.pem.pub"), "--peers", str(lab / "a-peers.json"),
               "-i", str(lab / "a.csv"), "--peer", "lab-b", "--purpose", "t",
               "--state", str(lab / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "not a private key" in err and "chmod" not in err
    assert not (lab / "s").exists()
