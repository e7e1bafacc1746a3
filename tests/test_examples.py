"""The example scripts run and find the known overlap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXPECTED = json.loads((EXAMPLES / "data" / "expected.json").read_text())


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return proc


def test_api_example() -> None:
    out = _run([sys.executable, str(EXAMPLES / "api_example.py")]).stdout
    assert f"A sees {EXPECTED['overlap_total']} shared items" in out
    assert "signed records verify" in out and "both sides: True" in out


def test_consortium_bloom_example() -> None:
    out = _run([sys.executable, str(EXAMPLES / "consortium_bloom.py")]).stdout
    assert "candidate rows" in out and "Confirm candidates with the PSI" in out


def test_tcp_script_is_valid_bash() -> None:
    # Its flow (serve + connect) runs in test_cli_exchange.py; here only the script's syntax.
    _run(["bash", "-n", str(EXAMPLES / "tcp_exchange.sh")])


@pytest.mark.parametrize(("script", "mode"), [("file_exchange.sh", "mutual")])
def test_cli_exchange_scripts(tmp_path: Path, script: str, mode: str) -> None:
    wrapper = tmp_path / "blindmatch"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m blindmatch "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "BLINDMATCH": str(wrapper), "BLINDMATCH_OUT": str(tmp_path / "out")}
    _run(["bash", str(EXAMPLES / script), mode], env=env)
    sub = "file-exchange" if script.startswith("file") else "tcp-exchange"
    report = next((tmp_path / "out" / sub / "lab_a").glob("*report.json"))
    doc = json.loads(report.read_text())
    assert doc["count"] == EXPECTED["overlap_total"] and doc["mode"] == mode
    assert not list((tmp_path / "out" / sub).rglob("*.state"))


@pytest.mark.parametrize("engine", ["dh", "ot"])
def test_stream_files_example(engine: str, tmp_path: Path) -> None:
    """Lines canonicalized lazily on both sides (``User7@Example.ORG`` matches ``user7@example.org``), the
    shared lines read back from the file; a bad line is a clean exit naming it."""
    out = _run(
        [sys.executable, str(EXAMPLES / "stream_files.py"), "--demo", "3000", "--engine", engine]
    ).stdout
    assert "1500 shared lines in lab_a.txt (1500 distinct; the other side found 1500)" in out
    assert "shared: user1500@example.org" in out
    bad_a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    bad_a.write_text("ok@example.org\nnot an email\n", encoding="utf-8")
    b.write_text("ok@example.org\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "stream_files.py"), str(bad_a), str(b), "email"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "a.txt:2:" in proc.stderr
