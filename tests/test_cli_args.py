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


# ---- item F: consistent names (old spellings kept, hidden); --json; untrusted clients ---------------------


def test_consistent_option_names_with_hidden_deprecated_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    from blindmatch.cli import build_parser

    parser = build_parser()
    new = parser.parse_args(["connect", "--identity", "x", "--peer", "p", "--purpose", "t", "--port", "1",
                             "-i", "f", "--responder-max-items", "7"])  # fmt: skip
    old = parser.parse_args(["connect", "--identity", "x", "--peer", "p", "--purpose", "t", "--port", "1",
                             "-i", "f", "--peer-max-items", "7"])  # fmt: skip
    assert new.responder_max_items == old.responder_max_items == 7
    new = parser.parse_args(["serve", "--identity", "x", "-i", "f", "--max-initiator-items", "9"])
    old = parser.parse_args(["serve", "--identity", "x", "-i", "f", "--max-peer-items", "9"])
    assert new.max_initiator_items == old.max_initiator_items == 9
    respond = ["psi", "respond", "--identity", "x", "-i", "f", "--state", "s"]
    new = parser.parse_args([*respond, "--message", "m"])
    old = parser.parse_args([*respond, "--in", "m"])
    assert new.message == old.message == "m"
    for argv in (["connect", "--help"], ["serve", "--help"], ["psi", "respond", "--help"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        text = capsys.readouterr().out
        assert "--peer-max-items" not in text and "--max-peer-items" not in text and "--in " not in text


def test_json_output_of_peers_list_fingerprint_and_bloom_show(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    capsys.readouterr()
    assert main(["peers", "list", "--peers", str(lab / "a-peers.json"), "--json"]) == 0
    peers = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in peers] == ["lab-b"] and "fingerprint" in peers[0]
    assert main(["fingerprint", "--identity", str(lab / "a.pem"), "--json"]) == 0
    fp = json.loads(capsys.readouterr().out)
    assert set(fp) == {"public", "fingerprint"}
    assert main(["bloom", "create", str(lab / "f.bloom"), "-n", "10"]) == 0
    capsys.readouterr()
    assert main(["bloom", "show", str(lab / "f.bloom"), "--json"]) == 0
    show = json.loads(capsys.readouterr().out)
    assert show["format"] == "native" and show["capacity"] == 10 and show["gzip"] is False
