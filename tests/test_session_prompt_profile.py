"""The manifest names the fingerprint profile of prompt bands; the responder's policy refuses a mismatch."""

from __future__ import annotations

import pytest
from session_support import make_parties, step

from blindmatch.errors import InvalidParameter
from blindmatch.fingerprints import get_profile, prompt_items
from blindmatch.session import Manifest, Policy
from blindmatch.session.errors import MalformedMessage, Refused

DEFAULT, STRICT = get_profile("default").tag, get_profile("strict").tag
A = [
    "please write a detailed story about a dragon who lives in a castle by the sea and collects shells",
    "summarize the quarterly earnings report of a mid-sized retailer in three short bullet points",
    "translate the following paragraph about mountain weather patterns into formal academic french",
    "list ten creative names for a bakery that specialises in sourdough bread and seasonal pastries",
]
B = [p.upper().replace("castle", "tower").replace("three", "four") for p in A[:2]] + [
    "an unrelated request about filling in tax forms for a small business"
]


def test_manifest_round_trip_and_checks() -> None:
    init, _ = make_parties({"prompt-band": ["x"]}, prompt_profile=DEFAULT)
    m = init.manifest
    assert m is not None and m.prompt_profile == DEFAULT and m.to_dict()["prompt_profile"] == DEFAULT
    assert Manifest.from_dict(m.to_dict()) == m
    plain, _ = make_parties()
    assert plain.manifest is not None and "prompt_profile" not in plain.manifest.to_dict()
    with pytest.raises(InvalidParameter):  # a profile without band items
        make_parties({"email": ["a@b.c"]}, prompt_profile=DEFAULT)
    doc = m.to_dict()
    doc["prompt_profile"] = 5
    with pytest.raises(MalformedMessage):
        Manifest.from_dict(doc)


@pytest.mark.parametrize(
    ("theirs", "kind", "ours", "words"),
    [
        (STRICT, "prompt-band", DEFAULT, "profiles differ"),
        (DEFAULT, "prompt-band", None, "not offered"),
        (None, "prompt-band", DEFAULT, "without a fingerprint profile"),
        (None, "prompt", DEFAULT, "exact prompts are not offered"),
    ],
)
def test_policy_refuses_a_mismatch(theirs: str | None, kind: str, ours: str | None, words: str) -> None:
    init, resp = make_parties({kind: ["v"]}, {kind: ["v"]}, policy=Policy(prompt_profile=ours),
                              prompt_profile=theirs)  # fmt: skip
    with pytest.raises(Refused, match=words):
        step(init, resp)
    assert init.record()["outcome"]["status"] == resp.record()["outcome"]["status"] == "refused"
    assert init.result is None and resp.result is None


def test_same_profile_matches_near_duplicates() -> None:
    a, b = prompt_items(A, "default"), prompt_items(B, "default")
    init, resp = make_parties(a.items_by_kind, b.items_by_kind, mode="mutual", max_items=128,
                              policy=Policy(prompt_profile=DEFAULT), prompt_profile=DEFAULT)  # fmt: skip
    step(init, resp)
    assert init.result is not None and resp.result is not None and init.result.matched is not None
    assert [m.index for m in a.matches(init.result.matched)] == [0, 1]
    assert [m.index for m in b.matches(resp.result.matched_items or [])] == [0, 1]
    assert init.record()["prompt_profile"] == resp.record()["prompt_profile"] == DEFAULT
