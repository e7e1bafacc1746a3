"""Write tests/vectors/oprf-v1.json: the suite blindmatch-oprf-v1/edwards25519-ell2ro-sha512 on fixed inputs.

``python tests/vectors/make_oprf_vectors.py``. ``tests/test_oprf_vectors.py`` checks the file against the
code and re-derives each value by another route (libsodium's Edwards ladder against X25519, the proof
equations). Regenerating it is a protocol change: it needs a reason in the commit message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from blindmatch.hazmat import oprf
from blindmatch.hazmat.group import edwards_to_montgomery, hash_to_edwards
from blindmatch.psi import indicator_item

OUT = Path(__file__).with_name("oprf-v1.json")
EPOCH_SECRET = bytes(range(32))
BLIND_SEED = bytes(range(32, 64))
PROOF_SEED = bytes(range(64, 96))
CONTEXT = b"\x11" * 32 + b"\x22" * 16 + b"email"
ITEMS = [indicator_item("email", v) for v in ("alice@example.org", "bob@example.org", "carol@example.net")]


def build() -> dict[str, Any]:
    key = oprf.derive_kind_key(EPOCH_SECRET, "email")
    blinded, rs = oprf.blind(ITEMS, BLIND_SEED)
    evaluated = oprf.evaluate(key, blinded)
    unblinded = oprf.unblind(evaluated, rs)
    outputs = oprf.finalize_many(ITEMS, unblinded)
    proof = oprf.prove(key, blinded, evaluated, CONTEXT, PROOF_SEED)
    points = hash_to_edwards(ITEMS, oprf.DST_HASH)
    cases = [
        {
            "item": x.hex(),
            "hash_to_group": p.hex(),
            "montgomery_u": u.hex(),
            "blind": r.to_bytes(32, "little").hex(),
            "blinded": b.hex(),
            "evaluated": e.hex(),
            "unblinded": f.hex(),
            "output": o.hex(),
        }
        for x, p, u, r, b, e, f, o in zip(
            ITEMS,
            points,
            edwards_to_montgomery(unblinded),
            rs,
            blinded,
            evaluated,
            unblinded,
            outputs,
            strict=True,
        )
    ]
    return {
        "suite": oprf.SUITE_ID.decode(),
        "dst_hash": oprf.DST_HASH.decode(),
        "epoch_secret": EPOCH_SECRET.hex(),
        "kind": "email",
        "key": {"clamped": key.clamped.hex(), "scalar": key.scalar.hex(), "public": key.public.hex()},
        "blind_seed": BLIND_SEED.hex(),
        "cases": cases,
        "proof": {"context": CONTEXT.hex(), "seed": PROOF_SEED.hex(), "proof": proof.hex()},
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
