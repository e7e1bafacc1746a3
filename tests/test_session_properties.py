"""Honest sessions, padded or not, give exactly Python's set intersection to the parties the mode names."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_support import ALICE, BOB, make_parties, step

from blindmatch.psi import indicator_item
from blindmatch.session import DEFAULT_PADDINGS, MODES, PADDING_RULES, padded_size, verify_record

values = st.sets(st.sampled_from([f"v{i}" for i in range(40)]), max_size=20)
item_sets = st.fixed_dictionaries({"email": values, "ip": values})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=item_sets,
    b=item_sets,
    mode=st.sampled_from(MODES),
    padding=st.sampled_from(PADDING_RULES),
    seed=st.binary(min_size=1, max_size=4),
)
def test_honest_sessions_give_the_set_intersection(
    a: dict[str, set[str]], b: dict[str, set[str]], mode: str, padding: str, seed: bytes
) -> None:
    init, resp = make_parties(a, b, mode=mode, padding=padding, max_items=(40, 48), seed=seed)
    step(init, resp)
    ri, rr = init.result, resp.result
    assert ri is not None and rr is not None and init.done and resp.done
    pairs_a = {(k, v) for k, vs in a.items() for v in vs}
    pairs_b = {(k, v) for k, vs in b.items() for v in vs}
    shared = pairs_a & pairs_b

    if mode in ("intersection", "mutual"):
        assert ri.matched is not None and set(ri.matched) == shared and len(ri.matched) == len(shared)
        assert ri.matched_items is not None
        assert set(ri.matched_items) == {indicator_item(k, v) for k, v in shared}
    else:
        assert ri.matched is None
    assert ri.count == len(shared)
    if mode == "mutual":
        assert rr.matched is not None and set(rr.matched) == shared
        assert rr.count == len(shared)
    elif mode == "mutual-cardinality":
        assert rr.matched is None and rr.count == len(shared)
    else:
        assert rr.matched is None and rr.count is None and rr.learned == "nothing"

    # padded sizes are what each side saw, and agree
    assert ri.own_padded_size == padded_size(padding, len(pairs_a), 40) == rr.peer_padded_size
    theirs = padding if padding in DEFAULT_PADDINGS else DEFAULT_PADDINGS[0]  # the responder's own choice
    assert rr.own_padded_size == padded_size(theirs, len(pairs_b), 48) == ri.peer_padded_size
    assert ri.own_size == len(pairs_a) and rr.own_size == len(pairs_b)
    assert ri.transcript_hash == rr.transcript_hash

    # records: signed, same transcript hash, sizes only, never the matched indicators
    rec_i, rec_r = verify_record(init.record(), ALICE.public), verify_record(resp.record(), BOB.public)
    assert rec_i["transcript_hash"] == rec_r["transcript_hash"] == ri.transcript_hash.hex()
    assert rec_i["padded_sizes"] == rec_r["padded_sizes"]
    assert rec_i["outcome"]["status"] == rec_r["outcome"]["status"] == "completed"
    text = json.dumps(rec_i) + json.dumps(rec_r)
    for _, v in shared:
        assert f'"{v}"' not in text
