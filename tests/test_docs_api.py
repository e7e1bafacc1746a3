"""Every ``python`` code block of docs/api.md runs, so the API guide cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


def test_guide_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_guide_block_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"docs/api.md block {index}", "exec"), {})
