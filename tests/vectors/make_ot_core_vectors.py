"""Write tests/vectors/ot-core-v1.json: the OT-extension core (blindmatch.hazmat.ot) on fixed seeds.

``python tests/vectors/make_ot_core_vectors.py``. ``tests/test_hazmat_ot.py`` checks the file against the
code. Regenerating it is a protocol change: it needs a reason in the commit message.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from blindmatch.hazmat import ot

OUT = Path(__file__).with_name("ot-core-v1.json")
SENDER_SEED = bytes(range(32))
RECEIVER_SEED = bytes(range(32, 64))
CHOICES = hashlib.blake2b(b"ot-core-v1 choices", digest_size=64).digest()
CONTEXT = b"blindmatch ot-core vectors v1"
CODE_KEY = bytes(range(100, 116))
ITEMS = [b"alice@example.org", b"bob@example.org", b"carol@example.net", b"198.51.100.7", b"evil.example"]


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def build() -> dict[str, Any]:
    sender, msg1 = ot.base_ot_sender_start(SENDER_SEED, CONTEXT)
    msg2, chosen = ot.base_ot_receiver(CHOICES, msg1, RECEIVER_SEED, CONTEXT)
    pairs = sender.finish(msg2)
    hashes = np.frombuffer(b"".join(hashlib.blake2b(x, digest_size=16).digest() for x in ITEMS), np.uint8)
    codewords = ot.prc(CODE_KEY, hashes.reshape(len(ITEMS), 16))
    u, t = ot.extension_receiver(pairs, codewords, CONTEXT)
    q = ot.extension_sender(chosen, CHOICES, u, len(ITEMS), CONTEXT)
    bins = np.arange(len(ITEMS), dtype=np.uint64)
    receiver_out = ot.row_hash(t, bins, CONTEXT, 16)
    sender_out = ot.row_hash(ot.sender_rows(q, bins, codewords, CHOICES), bins, CONTEXT, 16)
    return {
        "w": ot.W,
        "sender_seed": SENDER_SEED.hex(),
        "receiver_seed": RECEIVER_SEED.hex(),
        "choices": CHOICES.hex(),
        "context": CONTEXT.hex(),
        "msg1": msg1.hex(),
        "msg2_first_points": [msg2[:32].hex(), msg2[32:64].hex()],
        "msg2_sha256": _sha256(msg2),
        "pairs_first": [[k0.hex(), k1.hex()] for k0, k1 in pairs[:4]],
        "pairs_sha256": _sha256(b"".join(k0 + k1 for k0, k1 in pairs)),
        "chosen_first": [k.hex() for k in chosen[:4]],
        "code_key": CODE_KEY.hex(),
        "items": [x.hex() for x in ITEMS],
        "item_hashes": [bytes(h).hex() for h in hashes.reshape(len(ITEMS), 16)],
        "codewords": [bytes(c).hex() for c in codewords],
        "u_len": len(u),
        "u_prefix": u[:64].hex(),
        "u_sha256": _sha256(u),
        "t_rows": [bytes(r).hex() for r in t],
        "q_rows": [bytes(r).hex() for r in q],
        "row_hash_16": [bytes(r).hex() for r in receiver_out],
        "sender_row_hash_16": [bytes(r).hex() for r in sender_out],
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
