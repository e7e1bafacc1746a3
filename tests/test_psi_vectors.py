"""Full-hex PSI transcript vectors (tests/vectors/psi-transcripts-v1.json), checked two ways: rebuilt from
the specification by the standalone checker (hazmat + _derive + hand-written layout), and reproduced by
the party classes, live and saved/restored between steps."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from blindmatch.psi import MODES, Initiator, PsiResult, Responder

_DIR = Path(__file__).parent / "vectors"
_spec = importlib.util.spec_from_file_location("check_psi_vectors", _DIR / "check_psi_vectors.py")
assert _spec is not None and _spec.loader is not None
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)
DOC = json.loads((_DIR / "psi-transcripts-v1.json").read_text("utf-8"))
VECTORS: list[dict[str, Any]] = DOC["vectors"]


def _b(xs: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in xs]


def test_vectors_cover_every_mode_and_empty_sides() -> None:
    assert {v["mode"] for v in VECTORS} == set(MODES)
    for mode in MODES:
        mine = [v for v in VECTORS if v["mode"] == mode]
        assert any(not v["initiator_items"] for v in mine) and any(not v["responder_items"] for v in mine)
        assert any(v["initiator_result"]["count"] >= 2 for v in mine)
        assert all((v["confirm"] is not None) == (mode in ("mutual", "mutual-cardinality")) for v in mine)


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: v["name"])
def test_spec_rebuild_matches_byte_for_byte(v: dict[str, Any]) -> None:
    got = checker.rebuild(v)
    for f in checker.FIELDS:
        assert got[f] == v[f], f


def test_checker_catches_a_changed_byte(tmp_path: Path) -> None:
    assert checker.check() == []
    doc = copy.deepcopy(DOC)
    m2 = bytearray.fromhex(doc["vectors"][1]["response"])
    m2[-1] ^= 1
    doc["vectors"][1]["response"] = m2.hex()
    doc["vectors"][5]["initiator_result"]["count"] += 1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), "utf-8")
    assert checker.check(path) == [VECTORS[1]["name"], VECTORS[5]["name"]]
    assert checker.main(["check", str(path)]) == 1


def _as_dict(r: PsiResult) -> dict[str, Any]:
    matched = None if r.matched is None else [x.hex() for x in r.matched]
    return {"count": r.count, "own_size": r.own_size, "peer_size": r.peer_size, "matched": matched}


@pytest.mark.parametrize("restore", [False, True], ids=["live", "restored"])
@pytest.mark.parametrize("v", VECTORS, ids=lambda v: v["name"])
def test_party_classes_reproduce_the_vectors(v: dict[str, Any], restore: bool) -> None:
    a, b, mode = _b(v["initiator_items"]), _b(v["responder_items"]), v["mode"]
    init = Initiator(a, mode, seed=bytes.fromhex(v["initiator_seed"]))
    resp = Responder(b, seed=bytes.fromhex(v["responder_seed"]))
    m1 = init.start()
    if restore:
        init = Initiator.restore_state(init.save_state(), a, mode)
    m2 = resp.respond(m1)
    if restore:
        resp = Responder.restore_state(resp.save_state(), b)
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    got = (m1.hex(), m2.hex(), None if m3 is None else m3.hex())
    assert got == (v["request"], v["response"], v["confirm"])
    assert _as_dict(init.result) == v["initiator_result"]
    assert _as_dict(resp.result) == v["responder_result"]
    assert init.result.transcript_hash.hex() == resp.result.transcript_hash.hex() == v["transcript_hash"]


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: v["name"])
def test_vector_results_agree_with_python_sets(v: dict[str, Any]) -> None:
    a, b = _b(v["initiator_items"]), _b(v["responder_items"])
    common = set(a) & set(b)
    assert v["initiator_result"]["count"] == len(common)
    ri = v["initiator_result"]
    assert (ri["own_size"], ri["peer_size"]) == (len(set(a)), len(set(b)))
    if v["initiator_result"]["matched"] is not None:
        assert _b(v["initiator_result"]["matched"]) == [x for x in a if x in common]
