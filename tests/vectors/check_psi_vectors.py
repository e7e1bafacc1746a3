"""Rebuild every message of tests/vectors/psi-transcripts-v1.json from the specification and compare.

Run it: ``python tests/vectors/check_psi_vectors.py [path.json]`` (needs blindmatch installed). It uses only
``blindmatch.hazmat`` (hash to group, X25519, clamping), ``blindmatch._derive`` (the seed derivations) and
the byte layout written out below from ``docs/protocol.md``; not the PSI party classes, not the wire
module. Another implementation can port this file to check itself against the same vectors.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

from blindmatch._derive import derive_bytes, derive_key, derive_permutation
from blindmatch.hazmat import blind, clamp_scalar, hash_to_group

SUITE = b"blindmatch-psi-v1/x25519-ell2ro-sha512"
DST_HASH_TO_GROUP = SUITE + b"/hash-to-group"
LABEL_SESSION_ID = b"blindmatch/psi/v1/initiator/session-id"
LABEL_SCALAR = {"i": b"blindmatch/psi/v1/initiator/scalar", "r": b"blindmatch/psi/v1/responder/scalar"}
LABEL_ORDER = {
    "i": b"blindmatch/psi/v1/initiator/request-order",
    "r": b"blindmatch/psi/v1/responder/response-order",
}
MODE_CODE = {"intersection": 1, "mutual": 2, "cardinality": 3, "mutual-cardinality": 4}
CONFIRM = {"mutual", "mutual-cardinality"}  # the initiator sends message 3
COUNT_ONLY = {"cardinality", "mutual-cardinality"}  # hash lists sorted by value
VECTORS = Path(__file__).with_name("psi-transcripts-v1.json")


def header(msg_type: int, mode: str, sid: bytes) -> bytes:
    """magic, version 1, type, mode, flags 0, suite length, suite, session id."""
    return b"BMPS" + bytes([1, msg_type, MODE_CODE[mode], 0, len(SUITE)]) + SUITE + sid


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def own_list(seed: bytes, side: str, items: list[bytes]) -> list[bytes]:
    """Distinct items sorted by bytes, then permuted by the seed."""
    srt = sorted(set(items))
    return [srt[i] for i in derive_permutation(seed, LABEL_ORDER[side], len(srt))]


def compare_hash(sid: bytes, v: bytes) -> bytes:
    key = hashlib.sha256(SUITE + b"/compare-16" + sid).digest()
    return hashlib.blake2b(v, digest_size=16, key=key).digest()


def transcript_hash(m1: bytes, m2: bytes, m3: bytes) -> bytes:
    """The absent confirm of a one-sided mode counts as an empty message."""
    h = hashlib.sha512(SUITE + b"/transcript")
    for m in (m1, m2, m3):
        h.update(struct.pack(">Q", len(m)) + m)
    return h.digest()[:32]


def rebuild(v: dict[str, Any]) -> dict[str, Any]:
    """Every message, result and the transcript hash of one vector, from its seeds and items."""
    mode = v["mode"]
    si, sr = bytes.fromhex(v["initiator_seed"]), bytes.fromhex(v["responder_seed"])
    a_in = [bytes.fromhex(x) for x in v["initiator_items"]]
    b_in = [bytes.fromhex(x) for x in v["responder_items"]]
    sid = derive_bytes(si, LABEL_SESSION_ID, 16)
    ka = clamp_scalar(derive_key(si, LABEL_SCALAR["i"]))
    order_a, order_b = own_list(si, "i", a_in), own_list(sr, "r", b_in)
    req = blind(ka, hash_to_group(order_a, DST_HASH_TO_GROUP))
    m1 = header(1, mode, sid) + u32(len(req)) + b"".join(req)
    # the responder's scalar is bound to the request it answers: context = SHA-256(m1)
    kb = clamp_scalar(derive_key(sr, LABEL_SCALAR["r"], context=hashlib.sha256(m1).digest()))
    resp = blind(kb, hash_to_group(order_b, DST_HASH_TO_GROUP))
    h_a = [compare_hash(sid, x) for x in blind(kb, req)]  # request order
    h_b = [compare_hash(sid, x) for x in blind(ka, resp)]  # response order
    sent_a = sorted(h_a) if mode in COUNT_ONLY else h_a
    m2 = header(2, mode, sid) + u32(len(req)) + u32(len(resp)) + b"".join(resp) + b"".join(sent_a)
    m3 = b""
    if mode in CONFIRM:
        sent_b = sorted(h_b) if mode in COUNT_ONLY else h_b
        m3 = header(3, mode, sid) + u32(len(resp)) + b"".join(sent_b)
    hit_a = {order_a[i] for i, h in enumerate(h_a) if h in set(h_b)}
    hit_b = {order_b[i] for i, h in enumerate(h_b) if h in set(h_a)}
    count = len(hit_a)
    res_i: dict[str, Any] = {"count": count, "own_size": len(req), "peer_size": len(resp), "matched": None}
    res_r: dict[str, Any] = {"count": None, "own_size": len(resp), "peer_size": len(req), "matched": None}
    if mode in ("intersection", "mutual"):
        res_i["matched"] = [x.hex() for x in a_in if x in hit_a]
    if mode in CONFIRM:
        res_r["count"] = len(hit_b)
    if mode == "mutual":
        res_r["matched"] = [y.hex() for y in b_in if y in hit_b]
    return {
        "request": m1.hex(), "response": m2.hex(), "confirm": m3.hex() if m3 else None,
        "initiator_result": res_i, "responder_result": res_r,
        "transcript_hash": transcript_hash(m1, m2, m3).hex(),
    }  # fmt: skip


FIELDS = ("request", "response", "confirm", "initiator_result", "responder_result", "transcript_hash")


def check(path: Path = VECTORS) -> list[str]:
    """Names of the vectors whose rebuilt fields differ from the file (empty: all match)."""
    doc = json.loads(path.read_text("utf-8"))
    bad = []
    for v in doc["vectors"]:
        got = rebuild(v)
        if any(got[f] != v[f] for f in FIELDS):
            bad.append(v["name"])
    return bad


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else VECTORS
    n = len(json.loads(path.read_text("utf-8"))["vectors"])
    bad = check(path)
    for name in bad:
        print(f"MISMATCH {name}")
    print(f"{n - len(bad)} of {n} PSI transcript vectors rebuilt byte for byte from the specification")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
