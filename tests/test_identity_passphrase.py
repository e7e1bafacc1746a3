"""Passphrase-protected identity files: the library reads and writes them, and every CLI command that
loads an identity takes the passphrase from ``BLINDMATCH_PASSPHRASE`` (or a prompt on a terminal)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import make_lab_keys, write_csv
from session_support import ALICE

from blindmatch.errors import LocalError, MalformedFile
from blindmatch.session import Identity
from blindmatch.session.identity import PassphraseError

PASS = "tr0ub4dor-&-3-Zebra"
ENV = "BLINDMATCH_PASSPHRASE"


# ---- the library ---------------------------------------------------------------------------------------


def test_save_with_a_passphrase_writes_encrypted_pkcs8(tmp_path: Path) -> None:
    p = tmp_path / "id.pem"
    ALICE.save(p, passphrase=PASS.encode())
    data = p.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert Identity.file_is_encrypted(p)
    assert Identity.load(p, passphrase=PASS.encode()).public == ALICE.public
    assert Identity.load(p, PASS.encode()).seed() == ALICE.seed()


def test_unencrypted_file_loads_with_or_without_a_passphrase(tmp_path: Path) -> None:
    p = tmp_path / "id.pem"
    ALICE.save(p)
    assert not Identity.file_is_encrypted(p)
    assert Identity.load(p).public == ALICE.public
    assert Identity.load(p, passphrase=b"not needed").public == ALICE.public


def test_missing_passphrase_is_a_clear_local_error(tmp_path: Path) -> None:
    p = tmp_path / "id.pem"
    ALICE.save(p, passphrase=PASS.encode())
    with pytest.raises(PassphraseError, match="encrypted: a passphrase is needed") as info:
        Identity.load(p)
    assert isinstance(info.value, MalformedFile) and isinstance(info.value, LocalError)
    assert info.value.missing


def test_wrong_passphrase_is_a_clear_error_that_never_echoes_it(tmp_path: Path) -> None:
    p = tmp_path / "id.pem"
    ALICE.save(p, passphrase=PASS.encode())
    wrong = "my-wrong-guess-42"
    with pytest.raises(PassphraseError, match="wrong passphrase") as info:
        Identity.load(p, passphrase=wrong.encode())
    assert not info.value.missing
    assert wrong not in str(info.value) and PASS not in str(info.value)
    assert wrong not in repr(info.value)


# ---- the CLI ---------------------------------------------------------------------------------------------


def _run(*args: str, cwd: Path, passphrase: str | None) -> subprocess.CompletedProcess[str]:
    """``python -m blindmatch ARGS`` with no terminal on stdin, the passphrase (if any) in the environment."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if passphrase is not None:
        env[ENV] = passphrase
    proc = subprocess.run(
        [sys.executable, "-m", "blindmatch", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_keygen_encrypt_takes_the_passphrase_from_the_environment(tmp_path: Path) -> None:
    r = _run("keygen", "--encrypt", "id.pem", cwd=tmp_path, passphrase=PASS)
    assert r.returncode == 0, r.stderr
    assert PASS not in r.stdout + r.stderr
    assert Identity.file_is_encrypted(tmp_path / "id.pem")
    ident = Identity.load(tmp_path / "id.pem", passphrase=PASS.encode())
    assert ident.public.to_text() in r.stdout
    r = _run("fingerprint", "--identity", "id.pem", cwd=tmp_path, passphrase=PASS)
    assert r.returncode == 0 and ident.fingerprint in r.stdout, r.stderr


def test_keygen_encrypt_without_a_terminal_or_the_variable_fails_and_says_how(tmp_path: Path) -> None:
    r = _run("keygen", "--encrypt", "id.pem", cwd=tmp_path, passphrase=None)
    assert r.returncode == 5
    assert ENV in r.stderr and not (tmp_path / "id.pem").exists()
    r = _run("keygen", "--encrypt", "id.pem", cwd=tmp_path, passphrase="")
    assert r.returncode == 5 and "empty" in r.stderr and not (tmp_path / "id.pem").exists()


def test_keygen_without_encrypt_writes_a_plain_key(tmp_path: Path) -> None:
    r = _run("keygen", "id.pem", cwd=tmp_path, passphrase=PASS)
    assert r.returncode == 0, r.stderr
    assert not Identity.file_is_encrypted(tmp_path / "id.pem")


def _lab(w: Path) -> None:
    a, _ = make_lab_keys(w)
    (w / "a.pem").unlink()
    a.save(w / "a.pem", passphrase=PASS.encode())
    write_csv(w / "a.csv", [("email", "alice@example.org"), ("ip", "203.0.113.7")])
    write_csv(w / "b.csv", [("email", "alice@example.org"), ("domain", "b.example")])


def _initiate(w: Path, passphrase: str | None) -> subprocess.CompletedProcess[str]:
    return _run("psi", "initiate", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b",
                "-i", "a.csv", "--purpose", "t", "--max-items", "64", "--state", "a.state", cwd=w,
                passphrase=passphrase)  # fmt: skip


def test_encrypted_identity_runs_a_whole_file_exchange(tmp_path: Path) -> None:
    w = tmp_path
    _lab(w)
    r = _initiate(w, PASS)
    assert r.returncode == 0, r.stderr
    # lab B's key is not encrypted: the variable set for lab A does not get in its way
    r = _run("psi", "respond", "--identity", "b.pem", "--peers", "b-peers.json", "-i", "b.csv",
             "--message", "a-msg0.bin", "--state", "b.state", "--max-own-items", "64", cwd=w,
             passphrase=PASS)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = _run("psi", "continue", "--state", "a.state", "--message", "b-msg1.bin", cwd=w, passphrase=None)
    assert r.returncode == 5 and ENV in r.stderr, r.stderr  # a later step needs the passphrase too
    assert (w / "a.state").exists()
    r = _run("psi", "continue", "--state", "a.state", "--message", "b-msg1.bin", cwd=w, passphrase=PASS)
    assert r.returncode == 0, r.stderr
    assert PASS not in r.stdout + r.stderr


def test_encrypted_identity_without_or_with_a_wrong_passphrase_fails_cleanly(tmp_path: Path) -> None:
    w = tmp_path
    _lab(w)
    r = _initiate(w, None)
    assert r.returncode == 5, r.stderr
    assert "passphrase" in r.stderr and ENV in r.stderr
    assert not (w / "a-msg0.bin").exists() and not (w / "a.state").exists()
    wrong = "not-the-passphrase-99"
    r = _initiate(w, wrong)
    assert r.returncode == 5, r.stderr
    assert "wrong passphrase" in r.stderr
    assert wrong not in r.stdout + r.stderr and PASS not in r.stdout + r.stderr
    assert not (w / "a-msg0.bin").exists()
