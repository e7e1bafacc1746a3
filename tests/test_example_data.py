"""The committed example data is what the seeded generator makes, and its stated overlap is right."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from blindmatch.canonical import KINDS
from blindmatch.inputs import read_indicators

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"


def _generator() -> ModuleType:
    path = ROOT / "examples" / "make_example_data.py"
    spec = importlib.util.spec_from_file_location("make_example_data", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_example_data"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_committed_files_match_the_seeded_generator(tmp_path: Path) -> None:
    import phonenumbers

    recorded = json.loads((DATA / "expected.json").read_text())["phonenumbers_version"]
    if phonenumbers.__version__ != recorded:
        pytest.skip(f"phone numbers depend on the phonenumbers metadata ({recorded} made the files)")
    gen = _generator()
    assert gen.main(["--out", str(tmp_path)]) == 0
    for name in ("lab_a.csv", "lab_b.csv", "expected.json"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_files_read_back_with_the_csv_reader() -> None:
    expected = json.loads((DATA / "expected.json").read_text())
    kinds = set(expected["overlap_per_kind"])
    for lab in ("lab_a", "lab_b"):
        batch = read_indicators(DATA / f"{lab}.csv", kinds=kinds)
        assert len(batch.rows) == expected[lab]["rows"]
        assert batch.counts_per_kind() == expected[lab]["rows_per_kind"]
        assert not batch.unmapped


@pytest.mark.skipif(
    not {"email", "ip", "domain", "url", "phone", "account", "asn", "cidr"} <= set(KINDS),
    reason="needs the canon v1 rules for every kind (canon branch)",
)
def test_canonicalization_reconciles_the_known_overlap() -> None:
    gen = _generator()
    rows, expected = gen.generate(gen.SEED)
    assert gen.check(rows, expected) == []
