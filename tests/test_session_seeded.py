"""One seed per session party: the ephemeral key, each dummy and the PSI randomness derive from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from session_support import make_parties, step

from blindmatch._derive import derive_key
from blindmatch.session._phases import Listening, Proposal
from blindmatch.session._seeded import (
    LABEL_DUMMY,
    LABEL_EPHEMERAL,
    LABEL_PSI,
    dummies,
    ephemeral,
    psi_seed,
)
from blindmatch.session.channel import parse_message
from blindmatch.session.padding import DUMMY_PREFIX

LABELS = (LABEL_EPHEMERAL, LABEL_DUMMY, LABEL_PSI)


def test_labels_are_distinct_and_documented() -> None:
    assert len(set(LABELS)) == len(LABELS)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "sessions.md").read_text(encoding="utf-8")
    for label in LABELS:
        assert re.search(re.escape(f"`{label.decode()}`"), docs), label


def test_handshake_ephemerals_are_derived_from_the_seeds() -> None:
    init, resp = make_parties()
    assert isinstance(init._work, Proposal) and isinstance(resp._work, Listening)
    seeds = init._work.seed, resp._work.seed
    hello = init.start()
    accept = resp.receive(hello) or b""
    for seed, wire in zip(seeds, (hello, accept), strict=True):
        eph = json.loads(parse_message(wire).body)["ephemeral"]
        assert eph == ephemeral(seed)[1].hex()
    assert ephemeral(seeds[0])[1] != ephemeral(seeds[1])[1]


def test_dummy_i_is_derived_with_index_i() -> None:
    seed = bytes(range(32))
    ds = dummies(seed, 5)
    assert len(set(ds)) == 5 and all(d.startswith(DUMMY_PREFIX) for d in ds)
    assert ds[3] == DUMMY_PREFIX + derive_key(seed, LABEL_DUMMY, 3)
    assert dummies(seed, 3) == ds[:3]  # a dummy does not depend on how many there are


def test_the_psi_party_gets_the_derived_seed() -> None:
    init, resp = make_parties()
    assert isinstance(init._work, Proposal)
    seed = init._work.seed
    init.receive(resp.receive(init.start()) or b"")
    assert init._work.psi._seed == psi_seed(seed) == derive_key(seed, LABEL_PSI)
    assert psi_seed(seed) not in (seed, ephemeral(seed)[1])


def test_other_seeds_other_wire_same_results() -> None:
    i1, r1 = make_parties(mode="mutual", padding="pow2")
    i2, r2 = make_parties(mode="mutual", padding="pow2", seed=b"other")
    w1, w2 = step(i1, r1), step(i2, r2)
    assert w1 != w2
    assert i1.result is not None and i2.result is not None
    assert i1.result.matched == i2.result.matched
