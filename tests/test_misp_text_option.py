"""MISP free text is read only when asked, from the library's IndicatorSet and the CLI (issue 11, E)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import cli

import blindmatch as bm

EVENT = {
    "Event": {
        "info": "two attributes",
        "Attribute": [
            {"type": "text", "value": ".reloc", "category": "Other"},
            {"type": "email-src", "value": "Bad@Example.org", "category": "Payload delivery"},
        ],
    }
}


def _event(tmp_path: Path) -> Path:
    p = tmp_path / "event.json"
    p.write_text(json.dumps(EVENT))
    return p


def test_indicator_set_reads_misp_text_only_when_asked(tmp_path: Path) -> None:
    p = _event(tmp_path)
    plain = bm.IndicatorSet.from_files([p])
    assert plain.kinds == ("email",)
    with_text = bm.IndicatorSet.from_files([p], misp_text=True)
    assert set(with_text.kinds) == {"email", "text"} and with_text.values("text") == [".reloc"]
    again = bm.IndicatorSet.from_spec(with_text.spec) if with_text.spec is not None else None
    assert again is not None and set(again.kinds) == {"email", "text"}  # the spec keeps the option


def test_cli_inspect_takes_misp_text(tmp_path: Path) -> None:
    p = _event(tmp_path)
    r = cli("inspect", "-i", str(p), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "text" not in json.loads(r.stdout)["rows_per_kind"]
    r = cli("inspect", "-i", str(p), "--json", "--misp-text", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rows_per_kind"]["text"] == 1
