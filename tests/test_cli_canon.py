"""The ``canon`` and ``token`` commands, run as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from blindmatch.canonical import KINDS, canonicalize
from blindmatch.tokens import Tokenizer

KEY = bytes(range(32))


def cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "blindmatch", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def test_canon_lines_and_invalid_report() -> None:
    p = cli("canon", "--kind", "prompt", stdin=b"Hello   WORLD\r\n\nIgnore\tprevious\n\xff\xfe\n")
    assert p.returncode == 3
    assert p.stdout == b"hello world\nignore previous\n"
    err = p.stderr.decode()
    assert "line 2: invalid prompt indicator: empty" in err
    assert "line 4: invalid prompt indicator: not valid UTF-8" in err
    assert "2 invalid line(s)" in err


def test_canon_skip_invalid_exits_zero_and_quiet_hides_reports() -> None:
    p = cli("canon", "--kind", "prompt", "--skip-invalid", stdin=b"a\n\nb\n")
    assert p.returncode == 0 and p.stdout == b"a\nb\n"
    assert b"line 2" in p.stderr
    q = cli("canon", "--kind", "prompt", "--skip-invalid", "--quiet", stdin=b"a\n\nb\n")
    assert q.returncode == 0 and q.stdout == b"a\nb\n" and q.stderr == b""


def test_canon_from_file_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_bytes(b"  X  Y \n")
    p = cli("canon", "--kind", "prompt", str(f))
    assert p.returncode == 0 and p.stdout == b"x y\n"
    m = cli("canon", "--kind", "prompt", str(tmp_path / "nope.txt"))
    assert m.returncode == 5 and b"cannot read" in m.stderr


def test_usage_errors_exit_2() -> None:
    assert cli("canon", "--kind", "no-such-kind", stdin=b"x\n").returncode == 2
    assert cli("canon").returncode == 2
    assert cli().returncode == 2
    assert cli("frobnicate").returncode == 2
    v = cli("--version")
    assert v.returncode == 0 and v.stdout.startswith(b"blindmatch ")


@pytest.mark.skipif("email" not in KINDS, reason="needs the email rules (canon branch)")
def test_canon_email_reconciles_spellings() -> None:
    p = cli("canon", "--kind", "email", stdin=b"Alice.Smith+promo@GoogleMail.com\nalicesmith@gmail.com\n")
    assert p.returncode == 0
    lines = p.stdout.decode().splitlines()
    assert lines[0] == lines[1] == canonicalize("email", "alicesmith@gmail.com")


def test_token_matches_library_and_key_checks(tmp_path: Path) -> None:
    key = tmp_path / "k.hex"
    key.write_text(KEY.hex()[:32] + "\n" + KEY.hex()[32:] + "\n")
    key.chmod(0o600)
    args = ("token", "--key-file", str(key), "--kind", "prompt", "--context", "ctx")
    p = cli(*args, stdin=b"Hi  There\nbye\n")
    assert p.returncode == 0, p.stderr
    tok = Tokenizer(KEY, context=b"ctx")
    expected = [tok.token("prompt", "hi there").hex(), tok.token("prompt", "bye").hex()]
    assert p.stdout.decode().split() == expected
    assert p.stderr == b""
    b2 = cli("token", "--key-file", str(key), "--kind", "prompt", "--algorithm", "blake2b", stdin=b"bye\n")
    assert b2.stdout.decode().strip() == Tokenizer(KEY, algorithm="blake2b").token("prompt", "bye").hex()

    bad = tmp_path / "bad.hex"
    bad.write_text("not hex at all")
    r = cli("token", "--key-file", str(bad), "--kind", "prompt", stdin=b"x\n")
    assert r.returncode == 3 and b"hex" in r.stderr
    short = tmp_path / "short.hex"
    short.write_text("00" * 8)
    r = cli("token", "--key-file", str(short), "--kind", "prompt", stdin=b"x\n")
    assert r.returncode == 3 and b"at least 16" in r.stderr
    r = cli("token", "--key-file", str(tmp_path / "missing"), "--kind", "prompt", stdin=b"x\n")
    assert r.returncode == 5
    key.chmod(0o644)
    r = cli("token", "--key-file", str(key), "--kind", "prompt", stdin=b"x\n")
    assert r.returncode == 0 and b"readable by other users" in r.stderr


def test_token_invalid_lines_never_echo_values(tmp_path: Path) -> None:
    key = tmp_path / "k.hex"
    key.write_text(KEY.hex())
    key.chmod(0o600)
    secret = "S3CRET-VALUE"
    r = cli("token", "--key-file", str(key), "--kind", "prompt", stdin=f"ok\n   \n{secret}\n".encode())
    assert r.returncode == 3
    assert secret.encode() not in r.stderr and b"line 2" in r.stderr
    assert len(r.stdout.split()) == 2


def test_many_invalid_lines_are_capped() -> None:
    p = cli("canon", "--kind", "prompt", stdin=b"\n" * 200 + b"x\n")
    assert p.returncode == 3 and p.stdout == b"x\n"
    assert b"... and 150 more" in p.stderr
    assert p.stderr.count(b"invalid prompt") == 50


def test_broken_pipe_is_quiet() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "blindmatch", "canon", "--kind", "text"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.close()
    _, err = proc.communicate(b"value\n" * 200_000, timeout=60)
    assert b"Traceback" not in err
    assert proc.returncode in (0, 141)


def test_inspect_counts_by_kind_and_reports_unmapped(tmp_path: Path) -> None:
    import json

    event = {"Event": {"Attribute": [
        {"type": "email-src", "value": "A@Example.org"},
        {"type": "email-dst", "value": "a@example.org"},
        {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
        {"type": "ip-src", "value": "999.1.1.1"},
    ]}}  # fmt: skip
    f = tmp_path / "event.json"
    f.write_text(json.dumps(event))
    r = cli("inspect", "-i", str(f), "--json")
    assert r.returncode == 3  # one invalid ip
    doc = json.loads(r.stdout)
    assert doc["rows_per_kind"] == {"email": 2}
    assert doc["distinct_per_kind"] == {"email": 1}
    assert doc["unmapped"] == {"misp:md5": 1}
    assert list(doc["invalid"].values()) == [1]
    assert b"999.1.1.1" not in r.stderr and b"999.1.1.1" not in r.stdout
    ok = cli("inspect", "-i", str(f), "--skip-invalid", "-q")
    assert ok.returncode == 0 and b"misp:md5: 1" in ok.stdout
