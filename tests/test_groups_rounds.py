"""Rounds (issue 16 item 1, policy wiring of item 6): n labs in one process over real loopback TCP, their
merged reports against plain set counting, dropouts, resumption, policy refusals, hostile group files."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from round_support import (
    FORUM,
    IDS,
    KINDS,
    NAMES,
    OUTSIDER,
    expected,
    free_ports,
    lab_sets,
    make_group,
    make_policy,
    report_view,
)

from blindmatch import IndicatorSet
from blindmatch.errors import BlindmatchError, RemoteError
from blindmatch.groups import (
    BadGroupSignature,
    Group,
    GroupFileError,
    GroupNotValidNow,
    GroupPolicyMismatch,
    NotInGroup,
    PairFailed,
    RoundReport,
    RoundResult,
    load_group,
    run_round_async,
    sign_group,
)
from blindmatch.groups.forum_policy import ForumPolicy, NotAMember, Revocation, RunOutsidePolicy
from blindmatch.groups.group_file import GROUP_CONTEXT, GroupLab
from blindmatch.psi import IndicatorItems
from blindmatch.session import Identity, InitiatorSession, PeerStore, Policy, ResponderSession, verify_record
from blindmatch.session._canonjson import canonical_json
from blindmatch.transport import Server, connect_and_run

Sets = dict[str, set[tuple[str, str]]]


def isets(sets: Sets) -> dict[str, IndicatorSet]:
    return {
        n: IndicatorSet.from_rows([(k, v, f"{n}.csv:{i + 2}") for i, (k, v) in enumerate(sorted(s))])
        for n, s in sets.items()
    }


async def run_labs(
    group: Group, policy: ForumPolicy, names: Sequence[str], sets: Sets, tmp: Path, **kw: Any
) -> dict[str, RoundResult]:
    data = isets(sets)
    kw.setdefault("timeout", 20)
    results = await asyncio.gather(
        *[run_round_async(group, policy, IDS[n], data[n], tmp / n, **kw) for n in names]
    )
    return dict(zip(names, results, strict=True))


def check_against_counting(
    result: RoundResult, me: str, order: Sequence[str], sets: Sets, done: Sequence[str], t: int
) -> None:
    doc = json.loads(result.report_path.read_bytes())
    want = expected(me, order, sets, done, t)
    got = report_view(doc)
    assert got.held_by == want.held_by
    assert got.per_kind == want.per_kind
    assert got.over == want.over
    assert doc["me"] == me and doc["threshold"] == t and doc["format"] == "blindmatch-round-report/1"
    assert [lab["name"] for lab in doc["labs"]] == [n for n in order if n != me]
    for lab in doc["labs"]:
        assert lab["status"] == ("done" if lab["name"] in done else "failed")
        if lab["status"] == "done":
            assert lab["matches"] == sum(1 for ind in sets[me] if ind in sets[lab["name"]])
        else:
            assert lab["matches"] == 0 and lab["error"] and lab["name"] in lab["error"]
    assert RoundReport.from_json(result.report_path.read_bytes()).to_dict() == doc


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- full rounds -------------------------------------------------------------------------------------------


def test_three_labs_merged_reports_are_set_counting(tmp_path: Path) -> None:
    policy = make_policy()
    group = make_group(policy, 3, free_ports(3))
    names = NAMES[:3]
    sets = lab_sets(names)
    results = asyncio.run(run_labs(group, policy, names, sets, tmp_path))
    for me, res in results.items():
        check_against_counting(res, me, names, sets, [n for n in names if n != me], 2)
        assert mode_of(res.report_path) == 0o600
        for pair in res.pairs:
            assert pair.status == "done" and not pair.resumed and pair.record is not None
            assert mode_of(pair.record) == 0o600
            rec = verify_record(
                pair.record.read_bytes(), IDS[me].public, transcript_hash=pair.transcript_hash
            )
            assert rec["peer"]["public_key"] == IDS[pair.peer].public.to_text()
            assert rec["purpose"] == group.session_purpose and rec["outcome"]["status"] == "completed"
            assert pair.role == ("responder" if names.index(pair.peer) > names.index(me) else "initiator")
    # both sides of a pair hold the same transcript hash
    a_b = {p.peer: p.transcript_hash for p in results["lab-a"].pairs}["lab-b"]
    assert a_b == {p.peer: p.transcript_hash for p in results["lab-b"].pairs}["lab-a"]


def test_four_labs_threshold_three(tmp_path: Path) -> None:
    policy = make_policy(min_threshold=3)
    group = make_group(policy, 4, free_ports(4), threshold=3, padding="cap")
    sets = lab_sets(NAMES, seed=5)
    results = asyncio.run(run_labs(group, policy, NAMES, sets, tmp_path))
    for me, res in results.items():
        check_against_counting(res, me, NAMES, sets, [n for n in NAMES if n != me], 3)
        assert res.report.over_threshold  # the data has items held by 3 or more labs
        assert len(res.report.over_threshold) < len(res.report.indicators)


# -- dropouts and resumption -------------------------------------------------------------------------------


def test_lab_that_never_comes_up_fails_only_its_pairs_then_rerun_resumes(tmp_path: Path) -> None:
    policy = make_policy()
    group = make_group(policy, 3, free_ports(3))
    names = NAMES[:3]
    sets = lab_sets(names, seed=3)
    first = asyncio.run(run_labs(group, policy, ["lab-a", "lab-c"], sets, tmp_path, timeout=2.5))
    for me in ("lab-a", "lab-c"):
        check_against_counting(first[me], me, names, sets, [n for n in names if n not in (me, "lab-b")], 2)
        failed = first[me].failed
        assert [p.peer for p in failed] == ["lab-b"]
        assert isinstance(failed[0].error, PairFailed) and failed[0].error.peer == "lab-b"
        assert isinstance(failed[0].error, RemoteError)
    # lab-a serves lab-b (never connected), lab-c connects to lab-b (unreachable)
    assert "never connected" in str(first["lab-a"].failed[0].error)
    assert "PeerUnreachable" in str(first["lab-c"].failed[0].error)
    kept = tmp_path / "lab-a" / "pairs" / "lab-c"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept.iterdir()}
    second = asyncio.run(run_labs(group, policy, names, sets, tmp_path))
    for me, res in second.items():
        check_against_counting(res, me, names, sets, [n for n in names if n != me], 2)
    assert {p.peer: p.resumed for p in second["lab-a"].pairs} == {"lab-b": False, "lab-c": True}
    assert {p.peer: p.resumed for p in second["lab-c"].pairs} == {"lab-a": True, "lab-b": False}
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept.iterdir()} == before


def test_tampered_kept_pair_is_run_again(tmp_path: Path) -> None:
    policy = make_policy()
    group = make_group(policy, 2, free_ports(2))
    names = NAMES[:2]
    sets = lab_sets(names, seed=9)
    asyncio.run(run_labs(group, policy, names, sets, tmp_path))
    pair_file = tmp_path / "lab-a" / "pairs" / "lab-b" / "pair.json"
    doc = json.loads(pair_file.read_bytes())
    doc["matched"] = doc["matched"][1:]  # a match removed: the signed record's count no longer agrees
    pair_file.write_text(json.dumps(doc))
    again = asyncio.run(run_labs(group, policy, names, sets, tmp_path, redo=["lab-a"]))
    assert [p.resumed for p in again["lab-a"].pairs] == [False]
    assert [p.resumed for p in again["lab-b"].pairs] == [False]  # redo: the peer runs it again too
    check_against_counting(again["lab-a"], "lab-a", names, sets, ["lab-b"], 2)


class _DropsOut:
    """A party that vanishes (its connection closes) at its ``after``-th received message."""

    def __init__(self, inner: Any, after: int) -> None:
        self._inner, self._after = inner, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def receive(self, data: bytes) -> bytes | None:
        self._after -= 1
        if self._after <= 0:
            raise BlindmatchError("lab-b crashed")
        return self._inner.receive(data)  # type: ignore[no-any-return]


def _items(sets: Sets, name: str) -> IndicatorItems:
    return isets({name: sets[name]})[name].psi_items().indicators


async def _lab_b_drops_out(group: Group, sets: Sets) -> None:
    """lab-b answers lab-c's hello, then crashes; it sends lab-a its hello, then crashes."""
    b, c = group.lab("lab-b"), group.lab("lab-c")
    store = PeerStore()
    store.add("lab-c", c.public_key)
    policy = Policy(modes=frozenset({"mutual"}), max_items_initiator=256, max_items_responder=256)
    items = _items(sets, "lab-b")
    server = Server(
        lambda _a: _DropsOut(ResponderSession(IDS["lab-b"], store, policy, indicators=items), 2),
        host=b.host, port=b.port, max_sessions=1,
    )  # fmt: skip
    await server.start()
    a = group.lab("lab-a")
    hello = InitiatorSession(
        IDS["lab-b"], a.public_key, indicators=_items(sets, "lab-b"), mode="mutual", kinds=group.kinds,
        max_items=(256, 256), padding="pow2", purpose=group.session_purpose,
    )  # fmt: skip
    await asyncio.sleep(0.3)
    with pytest.raises(BlindmatchError):
        await connect_and_run(_DropsOut(hello, 1), a.host, a.port)  # type: ignore[arg-type]
    await asyncio.wait_for(server.serve(), 15)


def test_lab_dropping_out_mid_session_fails_only_its_pairs(tmp_path: Path) -> None:
    policy = make_policy()
    group = make_group(policy, 3, free_ports(3))
    names = NAMES[:3]
    sets = lab_sets(names, seed=4)

    async def main() -> dict[str, RoundResult]:
        labs = asyncio.ensure_future(run_labs(group, policy, ["lab-a", "lab-c"], sets, tmp_path, timeout=15))
        await _lab_b_drops_out(group, sets)
        return await labs

    results = asyncio.run(main())
    for me in ("lab-a", "lab-c"):
        res = results[me]
        check_against_counting(res, me, names, sets, [n for n in names if n not in (me, "lab-b")], 2)
        (failed,) = res.failed
        assert isinstance(failed.error, PairFailed) and failed.error.peer == "lab-b"
        assert "Peer" in type(failed.error.cause).__name__  # PeerDisconnected: the peer went away
        assert failed.record is not None  # the session had begun: my signed record of its failure
        rec = verify_record(failed.record.read_bytes(), IDS[me].public)
        assert rec["outcome"]["status"] == "failed"
        assert res.report.per_kind and all(counts["lab-b"] == 0 for counts in res.report.per_kind.values())


def test_impostor_for_a_lab_is_refused_and_the_real_lab_still_pairs(tmp_path: Path) -> None:
    policy = make_policy()
    group = make_group(policy, 2, free_ports(2))
    sets = lab_sets(NAMES[:2], seed=2)
    a = group.lab("lab-a")

    async def main() -> dict[str, RoundResult]:
        lab_a = asyncio.ensure_future(run_labs(group, policy, ["lab-a"], sets, tmp_path, timeout=15))
        await asyncio.sleep(0.3)
        forged = InitiatorSession(
            OUTSIDER, a.public_key, items_by_kind={"domain": ["x.example"]}, mode="mutual", kinds=group.kinds,
            max_items=(256, 256), padding="pow2", purpose=group.session_purpose, peer_name="lab-a",
        )  # fmt: skip
        with pytest.raises(BlindmatchError):
            await connect_and_run(forged, a.host, a.port)
        assert not forged.done or forged.result is None
        lab_b = await run_labs(group, policy, ["lab-b"], sets, tmp_path, timeout=15)
        return {**await lab_a, **lab_b}

    results = asyncio.run(main())
    (pair,) = results["lab-a"].pairs
    assert pair.status == "done" and pair.record is not None
    rec = verify_record(pair.record.read_bytes(), IDS["lab-a"].public)
    assert rec["peer"]["public_key"] == IDS["lab-b"].public.to_text()


def test_peer_answering_with_another_key_fails_that_pair(tmp_path: Path) -> None:
    policy = make_policy()
    group = make_group(policy, 2, free_ports(2))
    sets = lab_sets(NAMES[:2], seed=2)
    a = group.lab("lab-a")
    store = PeerStore()
    store.add("lab-b", IDS["lab-b"].public)

    async def main() -> RoundResult:
        server = Server(lambda _a: ResponderSession(OUTSIDER, store, items=[b"x"]), host=a.host, port=a.port)
        await server.start()
        serving = asyncio.ensure_future(server.serve())
        try:
            return (await run_labs(group, policy, ["lab-b"], sets, tmp_path, timeout=5))["lab-b"]
        finally:
            server.stop()
            await serving

    res = asyncio.run(main())
    (failed,) = res.failed
    assert isinstance(failed.error, PairFailed) and failed.error.peer == "lab-a"
    assert res.report.indicators == ()


# -- refusals before anything leaves the lab ---------------------------------------------------------------


def _refused(group: Group, policy: ForumPolicy, who: Identity, tmp: Path) -> BaseException:
    """Run ``who``'s round while the other labs' endpoints count connections; none may come."""
    hits: list[int] = []

    async def main() -> BaseException:
        servers = []
        for lab in group.labs:
            if lab.public_key != who.public:
                servers.append(await asyncio.start_server(lambda r, w: hits.append(1), lab.host, lab.port))
        data = isets({"x": lab_sets(["x"])["x"]})["x"]
        try:
            await run_round_async(group, policy, who, data, tmp, timeout=2)
        except BlindmatchError as exc:
            return exc
        finally:
            for s in servers:
                s.close()
        raise AssertionError("the round was not refused")

    exc = asyncio.run(main())
    assert hits == [] and not (tmp / "pairs").exists()
    return exc


@pytest.mark.parametrize(
    ("policy_changes", "group_changes", "error", "what"),
    [
        ({"kinds": ("domain", "email")}, {}, RunOutsidePolicy, "kinds"),
        ({"min_threshold": 3}, {}, RunOutsidePolicy, "threshold"),
        ({"max_items": 100}, {}, RunOutsidePolicy, "max_items"),
        ({"paddings": ("cap",)}, {}, RunOutsidePolicy, "padding"),
        ({"revoked": (Revocation(at=0, name="lab-b"),)}, {}, NotAMember, "revoked"),
        ({"revoked": (Revocation(at=0, key=IDS["lab-a"].public),)}, {}, NotAMember, "revoked"),
    ],
)
def test_policy_refusals_come_before_any_connection(
    tmp_path: Path, policy_changes: dict[str, Any], group_changes: dict[str, Any], error: type, what: str
) -> None:
    policy = make_policy(**policy_changes)
    group = make_group(policy, 3, free_ports(3), **group_changes)
    exc = _refused(group, policy, IDS["lab-a"], tmp_path)
    assert isinstance(exc, error), exc
    if isinstance(exc, RunOutsidePolicy):
        assert exc.what == what
    if isinstance(exc, NotAMember):
        assert exc.revoked


def test_non_member_in_group_and_outsider_running_are_refused(tmp_path: Path) -> None:
    policy = make_policy()
    ports = free_ports(3)
    group = make_group(policy, 2, ports)
    stranger = GroupLab("lab-x", OUTSIDER.public, "127.0.0.1", ports[2])
    with_stranger = dataclasses.replace(group, labs=(*group.labs, stranger))
    exc = _refused(with_stranger, policy, IDS["lab-a"], tmp_path / "1")
    assert isinstance(exc, NotAMember) and not exc.revoked
    swapped_labs = (
        GroupLab("lab-b", IDS["lab-a"].public, "127.0.0.1", ports[0]),
        GroupLab("lab-a", IDS["lab-b"].public, "127.0.0.1", ports[1]),
    )
    swapped = dataclasses.replace(group, labs=swapped_labs)
    assert isinstance(_refused(swapped, policy, IDS["lab-a"], tmp_path / "2"), NotAMember)
    assert isinstance(_refused(group, policy, IDS["lab-c"], tmp_path / "3"), NotInGroup)
    other_policy = make_policy(version=2)
    assert isinstance(_refused(group, other_policy, IDS["lab-a"], tmp_path / "4"), GroupPolicyMismatch)


# -- the group file ----------------------------------------------------------------------------------------


def _sign_body(body: Any, forum: Identity = FORUM) -> bytes:
    sig = forum.sign(GROUP_CONTEXT + canonical_json(body)).hex()
    return canonical_json({"group": body, "signature": sig})


def test_group_file_round_trip_and_signature_checks() -> None:
    policy = make_policy()
    group = make_group(policy, 3, free_ports(3))
    data = sign_group(FORUM, group)
    now = policy.issued + 10
    assert load_group(data, policy, now=now) == group
    doc = json.loads(data)
    doc["signature"] = ("0" if doc["signature"][0] != "0" else "1") + doc["signature"][1:]
    with pytest.raises(BadGroupSignature):
        load_group(canonical_json(doc), policy, now=now)
    with pytest.raises(BadGroupSignature):
        load_group(sign_group(OUTSIDER, group), policy, now=now)
    with pytest.raises(GroupNotValidNow) as info:
        load_group(data, policy, now=group.not_after)
    assert info.value.expired
    with pytest.raises(GroupPolicyMismatch):
        load_group(data, make_policy(version=2), now=now)


def _body_variants(body: dict[str, Any]) -> list[dict[str, Any]]:
    labs = body["labs"]
    out = []
    for change in (
        lambda b: b.update(extra=1),
        lambda b: b.pop("purpose"),
        lambda b: b["terms"].update(more=True),
        lambda b: b["labs"][0].update(note="x"),
        lambda b: b.update(labs=[*labs, {**labs[1], "endpoint": "127.0.0.1:9"}]),  # a name twice
        lambda b: b.update(
            labs=[*labs, {**labs[1], "name": "lab-z", "endpoint": "127.0.0.1:9"}]
        ),  # a key twice
        lambda b: b.update(labs=[*labs, {**labs[1], "name": "lab-z"}]),  # a key and an endpoint twice
        lambda b: b.update(threshold=True),
        lambda b: b.update(threshold=9),
        lambda b: b.update(threshold=1),
        lambda b: b["terms"].update(mode="intersection"),
        lambda b: b["terms"].update(kinds=["ip", "domain"]),
        lambda b: b["terms"].update(kinds=["nope"]),
        lambda b: b["terms"].update(max_items=-1),
        lambda b: b.update(labs=[{**labs[0], "endpoint": "127.0.0.1:0"}, *labs[1:]]),
        lambda b: b.update(labs=[{**labs[0], "public_key": "blindmatch-ed25519:00"}, *labs[1:]]),
        lambda b: b.update(labs=[{**labs[0], "name": "../etc"}, *labs[1:]]),
        lambda b: b.update(purpose="a\u202eb"),
        lambda b: b.update(format="blindmatch-group/v2"),
        lambda b: b.update(labs="lab-a"),
        lambda b: b.update(forum_policy="AB" * 32),
    ):
        b = json.loads(json.dumps(body))
        change(b)
        out.append(b)
    return out


def test_hostile_group_files_raise_group_file_errors_only() -> None:
    policy = make_policy()
    group = make_group(policy, 3, free_ports(3))
    data = sign_group(FORUM, group)
    now = policy.issued + 10
    body = json.loads(data)["group"]
    for variant in _body_variants(body):
        with pytest.raises(GroupFileError):
            load_group(_sign_body(variant), policy, now=now)
    pretty = json.dumps(json.loads(data), indent=1).encode()
    dup = data.replace(b'{"group":', b'{"group":1,"group":', 1)
    for bad in (pretty, data + b"\n", dup, b"NaN", b"\xff" * 10, data[:-5], b"[]", b"{}", b""):
        with pytest.raises(GroupFileError):
            load_group(bad, policy, now=now)
    rng = random.Random(5)
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        with contextlib.suppress(GroupFileError):  # anything else fails the test
            load_group(bytes(mutated), policy, now=now)


def test_group_object_checks() -> None:
    policy = make_policy()
    ports = free_ports(3)
    with pytest.raises(BlindmatchError):
        make_group(policy, 3, ports, threshold=4)
    with pytest.raises(BlindmatchError):
        make_group(policy, 3, [ports[0]] * 3)
    with pytest.raises(BlindmatchError):
        make_group(policy, 3, ports, purpose="x" * 141)
    group = make_group(policy, 3, ports, kinds=("ip", "domain"))
    assert group.kinds == ("domain", "ip") and len(group.session_purpose) <= 300
    assert GroupLab.at("lab-a", IDS["lab-a"].public, "[::1]:4000").endpoint == "[::1]:4000"
    assert set(KINDS) == set(make_group(policy, 2, ports).kinds)


def test_report_reader_is_strict() -> None:
    from blindmatch.groups import RoundReportError

    for bad in (b'{"format": "x"}', b"[]", b"nope", b'{"format": "blindmatch-round-report/1"}'):
        with pytest.raises(RoundReportError):
            RoundReport.from_json(bad)


def test_a_real_round_report_renders_in_the_browser(tmp_path: Path) -> None:
    """The merged report of a real round, as the HTML page, in headless Chromium: one bar per peer with its
    match count, every pair's record verified under our key."""
    from test_html_report import bars, rendered, texts

    from blindmatch.outputs import round_html

    policy = make_policy()
    group = make_group(policy, 3, free_ports(3))
    names = NAMES[:3]
    results = asyncio.run(run_labs(group, policy, names, lab_sets(names), tmp_path))
    report = results["lab-a"].report_path
    doc = json.loads(report.read_bytes())
    records = {lab["name"]: json.loads((report.parent / lab["record"]).read_bytes()) for lab in doc["labs"]}
    (tmp_path / "page").mkdir()
    tree = rendered(round_html(doc, records, keys=[IDS["lab-a"].public]), tmp_path / "page")
    assert bars(tree, "labs") == [(lab["name"], str(lab["matches"])) for lab in doc["labs"]]
    checks = [d.find("p", "check")[0].text() for d in tree.find("div", "record") if "data-peer" in d.attrs]
    assert checks == ["Signature: verified"] * 2
    for lab in doc["labs"]:
        assert lab["transcript_hash"] in texts(tree)
