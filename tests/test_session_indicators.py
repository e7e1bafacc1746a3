"""One map back: sessions built from ``indicators=`` (IndicatorItems), ``items_by_kind=`` or raw ``items=``
give the same wire bytes and Python's set intersection; a responder takes part with exactly the manifest's
kinds; one IndicatorItems serves many connections without encoding a value again."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_support import ALICE, BOB, Clock, seeded_rng, step, trust

import blindmatch.psi._items as psi_items
from blindmatch.errors import InvalidParameter
from blindmatch.psi import IndicatorItems, indicator_item
from blindmatch.session import InitiatorSession, Policy, ResponderSession, padded_size

KINDS = ("email", "ip")
values = st.lists(st.sampled_from([f"v{i}" for i in range(30)]), max_size=16)  # repeats on purpose
item_maps = st.fixed_dictionaries({k: values for k in KINDS})


def _given(how: str, by_kind: dict[str, list[str]]) -> dict[str, Any]:
    """The session keyword for one of the three ways to give the same items."""
    if how == "indicators":
        return {"indicators": IndicatorItems(by_kind)}
    if how == "items_by_kind":
        return {"items_by_kind": by_kind}
    return {"items": [indicator_item(k, v) for k, vs in by_kind.items() for v in vs]}


def _parties(
    a: dict[str, Any], b: dict[str, Any], *, mode: str = "mutual", kinds: tuple[str, ...] = KINDS,
    seed: bytes = b"s", cap: int = 64, policy: Policy | None = None,
) -> tuple[InitiatorSession, ResponderSession]:  # fmt: skip
    clock = Clock()
    init = InitiatorSession(ALICE, BOB.public, mode=mode, kinds=kinds, max_items=cap, purpose="test",
                            rng=seeded_rng(b"i" + seed), clock=clock, **a)  # fmt: skip
    resp = ResponderSession(BOB, trust(("alice", ALICE)), policy or Policy(max_items_responder=cap),
                            rng=seeded_rng(b"r" + seed), clock=clock, **b)  # fmt: skip
    return init, resp


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=item_maps, b=item_maps, seed=st.binary(min_size=1, max_size=4))
def test_all_three_parameters_give_the_set_intersection_and_the_same_wire(
    a: dict[str, list[str]], b: dict[str, list[str]], seed: bytes
) -> None:
    shared = {(k, v) for k, vs in a.items() for v in vs} & {(k, v) for k, vs in b.items() for v in vs}
    wires = []
    for how in ("indicators", "items_by_kind", "items"):
        init, resp = _parties(_given(how, a), _given(how, b), seed=seed)
        wires.append(step(init, resp))
        for party in (init, resp):
            res = party.result
            assert res is not None and res.matched_items is not None
            assert set(res.matched_items) == {indicator_item(k, v) for k, v in shared}
            if how == "items":
                assert res.matched is None  # raw bytes: no map back in the session ...
                back = IndicatorItems(a if party is init else b)  # ... but the same one outside it
                assert sorted(back.map_back(res.matched_items)) == sorted(shared)
            else:
                assert res.matched is not None and sorted(res.matched) == sorted(shared)
    assert wires[0] == wires[1] == wires[2]


def test_a_responder_takes_part_with_exactly_the_manifest_kinds() -> None:
    mine = IndicatorItems(
        {
            "email": ["a@x.org", "b@x.org", "a@x.org", "c@x.org"],
            "ip": ["192.0.2.1", "192.0.2.2"],
            "domain": ["x.org"],
        }
    )
    theirs = {"email": ["b@x.org"], "domain": ["x.org"], "url": ["https://x.org/"]}
    init, resp = _parties({"items_by_kind": theirs}, {"indicators": mine}, kinds=("domain", "email", "url"))
    step(init, resp)
    r = resp.result
    assert r is not None and r.matched is not None
    assert r.own_size == 3 + 1 == len(mine.select(init.manifest.kinds))  # email (distinct) and domain, no ip
    assert r.own_padded_size == padded_size("pow2", 4, 64) == init.result.peer_padded_size  # type: ignore[union-attr]
    assert sorted(r.matched) == [("domain", "x.org"), ("email", "b@x.org")]


def test_many_connections_share_one_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = psi_items.indicator_item

    def counting(kind: str, canonical: str, canon_version: int = 1) -> bytes:
        nonlocal calls
        calls += 1
        return real(kind, canonical, canon_version)

    monkeypatch.setattr(psi_items, "indicator_item", counting)
    ours = IndicatorItems({"email": [f"u{i}@x.org" for i in range(20)], "ip": ["192.0.2.1"]})
    theirs = IndicatorItems({"email": [f"u{i}@x.org" for i in range(10, 30)]})
    assert calls == 41
    for n in range(4):  # a server: one responder party per connection, all from one IndicatorItems
        init, resp = _parties({"indicators": theirs}, {"indicators": ours}, kinds=("email",),
                              seed=bytes([n]))  # fmt: skip
        step(init, resp)
        assert resp.result is not None and resp.result.matched is not None
        assert len(resp.result.matched) == 10
    assert calls == 41  # nothing encoded again
    assert ours.select(["email"]).items_of("email") is ours.items_of("email")  # shared, not copied


def test_indicator_items_deduplicate_and_map_back() -> None:
    ind = IndicatorItems({"ip": ["192.0.2.1", "192.0.2.1"], "email": ["b@x", "a@x", "b@x"], "url": []})
    assert ind.kinds == ("email", "ip", "url") and len(ind) == 3
    assert list(ind.values("email")) == ["b@x", "a@x"] and ind.values("nope") == ()
    assert ind.items == [indicator_item("email", "b@x"), indicator_item("email", "a@x"),
                         indicator_item("ip", "192.0.2.1")]  # fmt: skip
    assert ind.map_back(reversed(ind.items)) == [("ip", "192.0.2.1"), ("email", "a@x"), ("email", "b@x")]
    assert ind.items_by_kind() == {"email": ["b@x", "a@x"], "ip": ["192.0.2.1"], "url": []}
    assert IndicatorItems([("ip", "192.0.2.1"), ("email", "b@x"), ("email", "a@x")]).items == ind.items
    assert indicator_item("email", "c@x") not in ind and ind.indicator_of(b"\x00dummy") is None
    assert ind.indicator_of(indicator_item("domain", "b@x")) is None  # a kind not held
    with pytest.raises(InvalidParameter):
        ind.map_back([indicator_item("email", "c@x")])
    assert "b@x" not in repr(ind) and "email=2" in repr(ind)
    with pytest.raises(AttributeError):
        ind._size = 0  # type: ignore[misc]
    both = IndicatorItems.combine([ind.select(["email"]), IndicatorItems({"domain": ["x.org"]})])
    assert both.kinds == ("domain", "email") and len(both) == 3
    with pytest.raises(InvalidParameter):
        IndicatorItems.combine([ind, ind])
    with pytest.raises(InvalidParameter):
        IndicatorItems({"email": "a@x"})  # one str, not a list of values


def test_exactly_one_way_to_give_items() -> None:
    with pytest.raises(InvalidParameter):
        _parties({"indicators": IndicatorItems({"email": ["a@x"]}), "items_by_kind": {"email": ["a@x"]}},
                 {"items_by_kind": {"email": ["a@x"]}})  # fmt: skip
    with pytest.raises(InvalidParameter):
        _parties({"items_by_kind": {"email": ["a@x"]}}, {"indicators": {"email": ["a@x"]}})


def test_a_saved_state_restores_with_the_same_indicators_given_either_way() -> None:
    by_kind = {"email": ["a@x.org", "b@x.org"], "ip": ["192.0.2.1"]}
    clock = Clock()
    init, resp = _parties({"items_by_kind": {"email": ["b@x.org"]}}, {"items_by_kind": by_kind})
    resp.receive(init.start())
    saved = resp.save_state()
    args = (BOB, trust(("alice", ALICE)), Policy(max_items_responder=64))
    for kw in ({"indicators": IndicatorItems(by_kind)}, {"items_by_kind": by_kind}):
        restored = ResponderSession.restore_state(saved, *args, clock=clock, **kw)
        assert restored.transcript_hash == resp.transcript_hash
    other = IndicatorItems({"email": ["a@x.org"]})
    with pytest.raises(InvalidParameter):
        ResponderSession.restore_state(saved, *args, clock=clock, indicators=other)


def test_canon_version_is_in_the_manifest_and_a_mismatch_is_refused() -> None:
    from blindmatch.session import Refused

    v2 = IndicatorItems({"email": ["a@x.org"]}, canon_version=2)
    v1 = IndicatorItems({"email": ["a@x.org"]})
    assert v1.items[0] != v2.items[0]  # items of two canon versions never equal each other
    init, resp = _parties({"indicators": v2}, {"indicators": v1}, kinds=("email",))
    assert init.manifest is not None and init.manifest.canon_version == 2
    with pytest.raises(Refused, match="canon version 2 proposed"):
        step(init, resp)
    with pytest.raises(InvalidParameter, match="canon version"):
        _parties({"indicators": v1}, {"indicators": v2}, kinds=("email",))  # responder policy is v1
    policy = Policy(max_items_responder=64, canon_version=2)
    init, resp = _parties({"indicators": v2}, {"indicators": v2}, kinds=("email",), policy=policy)
    step(init, resp)
    assert init.result is not None and init.result.count == 1
