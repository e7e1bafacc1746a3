"""Write tests/vectors/psi-transcripts-v1.json by running the PSI party classes on fixed seeds and items.

``python tests/vectors/make_psi_vectors.py``. The file is then checked independently by
``check_psi_vectors.py`` (spec rebuild) and by ``tests/test_psi_vectors.py``. Regenerating it is a
protocol change: it needs a reason in the commit message.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from blindmatch.psi import MODES, Initiator, PsiResult, Responder, indicator_item

OUT = Path(__file__).with_name("psi-transcripts-v1.json")

_EMAILS = [
    "alice@example.org", "bob@example.org", "carol@example.net", "dave@example.com", "erin@example.org",
]  # fmt: skip
# (name, initiator items, responder items): indexes into the indicators below; repeats on purpose
CASES = [
    ("3x4-shared-2", [0, 1, 2], [1, 2, 3, 4]),
    ("4x3-shared-1-repeats", [0, 4, 3, 4, 1], [5, 4, 6]),
    ("empty-initiator", [], [0, 1, 2]),
    ("empty-responder", [0, 1, 2], []),
]


def _indicators() -> list[bytes]:
    return [indicator_item("email", e) for e in _EMAILS] + [
        indicator_item("ipv4", "192.0.2.1"), indicator_item("domain", "example.com"),
    ]  # fmt: skip


def _result(r: PsiResult) -> dict[str, Any]:
    matched = None if r.matched is None else [x.hex() for x in r.matched]
    return {"count": r.count, "own_size": r.own_size, "peer_size": r.peer_size, "matched": matched}


def vector(name: str, mode: str, a: list[bytes], b: list[bytes]) -> dict[str, Any]:
    si = hashlib.sha256(f"psi-vector/{name}/{mode}/initiator".encode()).digest()
    sr = hashlib.sha256(f"psi-vector/{name}/{mode}/responder".encode()).digest()
    init = Initiator(a, mode, seed=si)  # type: ignore[arg-type]
    resp = Responder(b, seed=sr)
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    return {
        "name": f"{mode}/{name}", "mode": mode, "initiator_seed": si.hex(), "responder_seed": sr.hex(),
        "initiator_items": [x.hex() for x in a], "responder_items": [y.hex() for y in b],
        "request": m1.hex(), "response": m2.hex(), "confirm": None if m3 is None else m3.hex(),
        "initiator_result": _result(init.result), "responder_result": _result(resp.result),
        "transcript_hash": init.result.transcript_hash.hex(),
    }  # fmt: skip


def build() -> dict[str, Any]:
    ind = _indicators()
    return {
        "description": "blindmatch PSI transcripts, suite blindmatch-psi-v1/x25519-ell2ro-sha512: seeds, "
        "items (hex), every message as full hex, both results and the transcript hash. Derivation labels, "
        "the sorted-list rule and the layout: docs/protocol.md. Checker: check_psi_vectors.py.",
        "vectors": [
            vector(name, mode, [ind[i] for i in xa], [ind[i] for i in xb])
            for mode in MODES
            for name, xa, xb in CASES
        ],
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1) + "\n", "utf-8")
    print(f"wrote {OUT}")
