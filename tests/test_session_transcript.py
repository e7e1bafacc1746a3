"""A scan of the encrypted wire: no item, canonical form, token, hash or blinded element in the clear."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from session_support import make_parties, step

import blindmatch.session.initiator as initiator_mod
import blindmatch.session.responder as responder_mod
from blindmatch.psi import Initiator, Responder, indicator_item
from blindmatch.tokens import Tokenizer

A = {"email": [f"person{i}@lab-a.example" for i in range(30)], "ip": ["203.0.113.7", "198.51.100.1"]}
B = {"email": [f"person{i}@lab-a.example" for i in range(20, 60)], "ip": ["203.0.113.7"]}


class _Tap:
    def __init__(self) -> None:
        self.inner: list[bytes] = []


def _capturing(tap: _Tap) -> tuple[type, type]:
    class CInit(Initiator):
        def start(self) -> bytes:
            out = super().start()
            tap.inner.append(out)
            return out

        def finish(self, response: bytes) -> bytes | None:
            out = super().finish(response)
            if out is not None:
                tap.inner.append(out)
            return out

    class CResp(Responder):
        def respond(self, request: bytes) -> bytes:
            out = super().respond(request)
            tap.inner.append(out)
            return out

    return CInit, CResp


@pytest.mark.parametrize("mode", ["intersection", "mutual", "cardinality", "mutual-cardinality"])
@pytest.mark.parametrize("padding", ["none", "pow2"])
def test_wire_shows_no_item_token_or_blinded_element(mode: str, padding: str, monkeypatch: Any) -> None:
    tap = _Tap()
    cinit, cresp = _capturing(tap)
    monkeypatch.setattr(initiator_mod, "PsiInitiator", cinit)
    monkeypatch.setattr(responder_mod, "PsiResponder", cresp)
    init, resp = make_parties(A, B, mode=mode, padding=padding, max_items=128)
    wire = step(init, resp)
    assert init.result is not None and init.result.count == 11
    assert len(tap.inner) == len(wire) - 2  # every PSI message went through the channel

    # what the PSI messages carry: after a short header, lists of 32-byte blinded elements and 16-byte
    # comparison hashes that run to the end of the message; cut them into 16-byte pieces from the end
    secrets: list[bytes] = []
    for m in tap.inner:
        secrets += [m[i - 16 : i] for i in range(len(m), 80, -16)]
        secrets += [m[:48]]
    tok = Tokenizer(b"k" * 32)
    needles: list[bytes] = []
    for side in (A, B):
        for kind, vals in side.items():
            for v in vals:
                item = indicator_item(kind, v)
                needles += [
                    v.encode(),
                    item,
                    hashlib.sha256(item).digest()[:16],
                    hashlib.sha256(v.encode()).digest()[:16],
                ]
                needles += [tok.token_canonical(kind, v)[:16], v.encode("utf-16-le")]
    blob = b"\x00".join(wire)
    for n in needles:
        assert n not in blob
    for s in secrets:
        assert len(s) == 16 or len(s) == 48
        assert s not in blob
    # PSI payloads never appear before the channel is keyed: only the handshake is clear
    assert b"BMPS" not in blob
