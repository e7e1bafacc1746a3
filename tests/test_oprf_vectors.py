"""Known-answer vectors of the OPRF suite (tests/vectors/oprf-v1.json), each value also re-derived by a
second route: the Edwards ladder against X25519 on the clamped key, and the proof against its equations."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.bindings as nb

from blindmatch.hazmat import oprf
from blindmatch.hazmat.group import blind as x25519_blind
from blindmatch.hazmat.group import edwards_to_montgomery

VECTORS = json.loads((Path(__file__).parent / "vectors" / "oprf-v1.json").read_text(encoding="utf-8"))
ORDER = 2**252 + 27742317777372353535851937790883648493


def test_vectors_match_the_code() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "vectors"))
    from make_oprf_vectors import build

    assert build() == VECTORS


def test_key_relations() -> None:
    k = VECTORS["key"]
    clamped, scalar = bytes.fromhex(k["clamped"]), bytes.fromhex(k["scalar"])
    assert int.from_bytes(clamped, "little") % ORDER == int.from_bytes(scalar, "little")
    assert nb.crypto_scalarmult_ed25519_base_noclamp(scalar).hex() == k["public"]


def test_each_case_by_a_second_route() -> None:
    k = VECTORS["key"]
    scalar, clamped = bytes.fromhex(k["scalar"]), bytes.fromhex(k["clamped"])
    for c in VECTORS["cases"]:
        h = bytes.fromhex(c["hash_to_group"])
        r = bytes.fromhex(c["blind"])
        assert nb.crypto_scalarmult_ed25519_noclamp(r, h).hex() == c["blinded"]
        assert (
            nb.crypto_scalarmult_ed25519_noclamp(scalar, bytes.fromhex(c["blinded"])).hex() == c["evaluated"]
        )
        assert (
            nb.crypto_scalarmult_ed25519_noclamp(scalar, h).hex() == c["unblinded"]
        )  # r^-1 * k * r * H = k * H
        # the publisher's fast route: X25519 with the clamped key on u(H) gives u(k * H)
        u_h = edwards_to_montgomery([h])[0]
        assert x25519_blind(clamped, [u_h])[0].hex() == c["montgomery_u"]
        assert oprf.finalize(bytes.fromhex(c["item"]), bytes.fromhex(c["montgomery_u"])).hex() == c["output"]


def test_proof_vector_verifies() -> None:
    p = VECTORS["proof"]
    blinded = [bytes.fromhex(c["blinded"]) for c in VECTORS["cases"]]
    evaluated = [bytes.fromhex(c["evaluated"]) for c in VECTORS["cases"]]
    oprf.verify(bytes.fromhex(VECTORS["key"]["public"]), blinded, evaluated, bytes.fromhex(p["context"]),
                bytes.fromhex(p["proof"]))  # fmt: skip
