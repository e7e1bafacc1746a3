"""Issue 11, section F: ``make demo`` installs only the package, ``make test`` the dev extra and
``make bench`` the bench extra (``make -n`` shows what each would run, in a throwaway venv path)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _installs(target: str, venv: Path) -> list[str]:
    r = subprocess.run(
        ["make", "-n", "-B", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    return [line for line in r.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_each_target_installs_only_what_it_needs(tmp_path: Path) -> None:
    demo = _installs("demo", tmp_path / "v")
    assert demo and all("[" not in line for line in demo), demo
    test = _installs("test", tmp_path / "v")
    assert any("[dev]" in line for line in test) and not any("bench" in line for line in test), test
    bench = _installs("bench", tmp_path / "v")
    assert any("[bench]" in line for line in bench) and not any("dev" in line for line in bench), bench
