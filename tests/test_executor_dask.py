"""The Dask executor: exchanges and sessions on a LocalCluster (started here) give the very bytes of one
process; the partitioned compare equals a set intersection; non-TLS schedulers are refused; the CLI's
``--executor``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv
from hypothesis import given, settings
from hypothesis import strategies as st
from session_support import ALICE, BOB, Clock, seeded_rng, trust

from blindmatch.cli._executor_args import executor_scope, parse_executor_spec
from blindmatch.cli.exitcodes import CliError, ExitCode
from blindmatch.errors import InvalidParameter
from blindmatch.executors import (
    DaskExecutor,
    ExecutorError,
    ProcessExecutor,
    check_scheduler_address,
    load_distributed,
    map_elements,
    resolve_executor,
)
from blindmatch.hazmat.group import blind_and_hash, hash_to_group_and_blind
from blindmatch.psi import MODES, Initiator, PsiResult, Responder
from blindmatch.psi import _compare as compare_mod
from blindmatch.session import InitiatorSession, Policy, ResponderSession

distributed = pytest.importorskip("distributed")  # a guard only: the dev extra installs it

N = 2048  # per side: several chunks of group work per stage (512 elements each at least)
A_ITEMS = [b"item-%d" % i for i in range(N)]
B_ITEMS = [b"item-%d" % i for i in range(N // 2, N + N // 2)]
A_ELEMENTS = hash_to_group_and_blind(b"\x05" * 32, b"test", A_ITEMS[:1500])  # valid group elements


# no dashboard; the scheduler's small HTTP server on a free port (its default is 8787 even then)
_QUIET: dict[str, Any] = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes of one thread on loopback TCP, started and closed by this module."""
    c = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, **_QUIET, host="127.0.0.1"
    )
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    c = distributed.Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def dask_ex(client: Any) -> DaskExecutor:
    return DaskExecutor(client, allow_insecure=True)  # a LocalCluster on plain loopback TCP


def _exchange(mode: str, **kw: Any) -> tuple[list[bytes | None], PsiResult, PsiResult]:
    init = Initiator(A_ITEMS, mode, seed=b"\x01" * 32, **kw)  # type: ignore[arg-type]
    resp = Responder(B_ITEMS, seed=b"\x02" * 32, **kw)
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    if m3 is not None:
        resp.finish(m3)
    return [m1, m2, m3], init.result, resp.result


# --- the refusals -----------------------------------------------------------------------------------


def test_a_plain_tcp_scheduler_is_refused_without_allow_insecure(client: Any) -> None:
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    with pytest.raises(InvalidParameter, match="not tls://"):
        DaskExecutor(client)


@pytest.mark.parametrize(
    ("address", "insecure", "ok"),
    [
        ("tls://10.1.2.3:8786", False, True),
        ("tls://sched.lab.internal:8786", False, True),
        ("tcp://127.0.0.1:8786", False, False),
        ("tcp://127.0.0.1:8786", True, True),
        ("tcp://[::1]:8786", True, True),
        ("tcp://localhost:8786", True, True),
        ("inproc://10.0.0.1/123/1", True, True),
        ("tcp://10.1.2.3:8786", True, False),  # allow_insecure is for loopback only
        ("tcp://sched.lab.internal:8786", True, False),
        ("ws://127.0.0.1:8786", True, False),
        ("127.0.0.1:8786", True, False),
    ],
)
def test_scheduler_addresses(address: str, insecure: bool, ok: bool) -> None:
    if ok:
        check_scheduler_address(address, allow_insecure=insecure)
    else:
        with pytest.raises(InvalidParameter):
            check_scheduler_address(address, allow_insecure=insecure)


def test_connect_checks_the_address_before_connecting(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="not tls://"):
        DaskExecutor.connect("tcp://192.0.2.1:8786")  # TEST-NET: would hang if it tried
    f = tmp_path / "scheduler.json"
    f.write_text(json.dumps({"address": "tcp://192.0.2.1:8786"}))
    with pytest.raises(InvalidParameter, match="loopback"):
        DaskExecutor.connect(scheduler_file=str(f), allow_insecure=True)
    with pytest.raises(InvalidParameter, match="not both"):
        DaskExecutor.connect("tls://192.0.2.1:8786", scheduler_file=str(f))


def test_without_distributed_a_dask_executor_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InvalidParameter, match=r"blindmatch\[dask\]"):
        load_distributed()
    with pytest.raises(InvalidParameter, match=r"blindmatch\[dask\]"):
        DaskExecutor.connect("tls://192.0.2.1:8786")


def test_workers_and_executor_together_are_refused(dask_ex: DaskExecutor) -> None:
    with pytest.raises(InvalidParameter, match="not both"):
        Initiator(A_ITEMS, workers=2, executor=dask_ex)
    with pytest.raises(InvalidParameter, match="not both"):
        ResponderSession(BOB, trust(("alice", ALICE)), items=[b"x"], workers=1, executor=dask_ex)
    with pytest.raises(InvalidParameter, match="executor must"):
        Responder(B_ITEMS, executor=object())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="workers"):
        Responder(B_ITEMS, workers=0)
    assert isinstance(resolve_executor(None, None), ProcessExecutor)


# --- same bytes as one process ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_exchange_on_dask_is_byte_identical(
    mode: str, dask_ex: DaskExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _exchange(mode)
    monkeypatch.setattr(compare_mod, "COMPARE_MIN_PARALLEL", 0)  # the compare in several partitions too
    assert compare_mod.compare_partitions(dask_ex, N, N) > 1
    remote = _exchange(mode, executor=dask_ex)
    assert remote == local  # every message, both results (matched order, counts, transcript hash)


def test_progress_on_dask_counts_every_element(dask_ex: DaskExecutor) -> None:
    seen: list[tuple[int, int]] = []
    out = map_elements(
        dask_ex, blind_and_hash, (b"\x07" * 32, b"k"), A_ELEMENTS, lambda d, t: seen.append((d, t))
    )
    assert out == blind_and_hash(b"\x07" * 32, b"k", A_ELEMENTS)
    assert seen[0] == (0, 1500) and seen[-1] == (1500, 1500)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_what_the_work_raises_comes_back_unchanged(dask_ex: DaskExecutor) -> None:
    with pytest.raises(InvalidParameter, match="comparison key"):
        dask_ex.map(blind_and_hash, (b"\x07" * 32, b""), [A_ELEMENTS[:4]])


def test_a_session_with_dask_on_one_side_is_byte_identical(dask_ex: DaskExecutor) -> None:
    def run(**resp_kw: Any) -> tuple[list[bytes], InitiatorSession, ResponderSession]:
        clock = Clock()
        items = {"email": [f"user{i}@example.org" for i in range(1200)]}
        theirs = {"email": [f"user{i}@example.org" for i in range(600, 2000)]}
        init = InitiatorSession(
            ALICE, BOB.public, items_by_kind=items, mode="mutual", max_items=2048, purpose="test",
            rng=seeded_rng(b"init"), clock=clock,
        )  # fmt: skip
        resp = ResponderSession(
            BOB, trust(("alice", ALICE)), Policy(max_items_responder=2048), items_by_kind=theirs,
            rng=seeded_rng(b"resp"), clock=clock, **resp_kw,
        )  # fmt: skip
        wire = [init.start()]
        parties: list[InitiatorSession | ResponderSession] = [resp, init]
        while (out := parties[(len(wire) - 1) % 2].receive(wire[-1])) is not None:
            wire.append(out)
        return wire, init, resp

    w1, i1, r1 = run()
    w2, i2, r2 = run(executor=dask_ex)
    assert w1 == w2
    assert i1.result is not None and r1.result is not None
    assert i1.result == i2.result and r1.result == r2.result
    assert i1.transcript_hash == i2.transcript_hash == r2.transcript_hash
    assert i1.record() == i2.record() and r1.record() == r2.record()


# --- the partitioned compare ------------------------------------------------------------------------


class _Serial:
    """An executor that cuts work into a fixed number of parts and runs them here."""

    def __init__(self, parts: int) -> None:
        self.parts = parts

    def split(self, n: int) -> int:
        return self.parts

    def map(
        self, fn: Callable[..., Any], fixed: tuple[Any, ...], chunks: Sequence[Any], *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[Any]:  # fmt: skip
        return [fn(*fixed, c) for c in chunks]


_hashes = st.lists(st.binary(min_size=16, max_size=16), max_size=60, unique=True)


@settings(max_examples=150, deadline=None)
@given(probe=_hashes, table=_hashes, shared=st.integers(0, 30), parts=st.integers(1, 40))
def test_partitioned_compare_equals_a_set_intersection(
    probe: list[bytes], table: list[bytes], shared: int, parts: int
) -> None:
    table = table + [h for h in probe[:shared] if h not in table]  # some overlap, still distinct
    expected = [i for i, h in enumerate(probe) if h in set(table)]
    saved = compare_mod.COMPARE_MIN_PARALLEL
    compare_mod.COMPARE_MIN_PARALLEL = 0
    try:
        assert compare_mod.compare_partitions(_Serial(parts), len(probe), len(table)) == parts
        assert compare_mod.matching_positions(_Serial(parts), probe, table) == expected
        assert compare_mod.matching_positions(_Serial(parts), probe, set(table)) == expected
    finally:
        compare_mod.COMPARE_MIN_PARALLEL = saved
    assert len(expected) == len(set(probe) & set(table))


def test_small_lists_are_one_partition() -> None:
    assert compare_mod.compare_partitions(_Serial(8), 100, 100) == 1
    assert compare_mod.compare_partitions(ProcessExecutor(1), 1 << 16, 1 << 16) == 1
    assert compare_mod.compare_partitions(ProcessExecutor(2), 1 << 16, 1 << 16) == 1  # a pool: no gain
    assert compare_mod.compare_partitions(_Serial(8), 1 << 16, 1 << 16) == 8


# --- TLS --------------------------------------------------------------------------------------------


def test_a_tls_cluster_is_accepted_without_allow_insecure() -> None:
    security = distributed.security.Security.temporary()
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, **_QUIET,
            protocol="tls://", host="127.0.0.1", security=security,
        ) as tls_cluster,
        distributed.Client(tls_cluster, security=security, set_as_default=False) as tls_client,
    ):  # fmt: skip
        assert tls_client.scheduler.address.startswith("tls://")
        ex = DaskExecutor(tls_client)
        elements = A_ELEMENTS[:600]
        assert map_elements(ex, blind_and_hash, (b"\x07" * 32, b"k"), elements) == blind_and_hash(
            b"\x07" * 32, b"k", elements
        )


def test_a_cluster_without_workers_is_an_executor_error() -> None:
    with (
        distributed.LocalCluster(
            n_workers=0, processes=False, **_QUIET, protocol="tcp://", host="127.0.0.1"
        ) as empty,
        distributed.Client(empty, set_as_default=False) as c,
        pytest.raises(ExecutorError, match="no workers"),
    ):  # fmt: skip
        DaskExecutor(c, allow_insecure=True).split(10)


# --- the command line -------------------------------------------------------------------------------


def test_cli_psi_steps_with_executor(cluster: Any, tmp_path: Path) -> None:
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "a.csv", [("email", f"u{i}@example.org") for i in range(40)])
    write_csv(tmp_path / "b.csv", [("email", f"u{i}@example.org") for i in range(20, 70)])
    address = cluster.scheduler_address.removeprefix("tcp://")
    dask = ["--executor", f"dask://{address}", "--executor-insecure"]
    common = ["--purpose", "t", "--max-items", "128"]
    a = ["--identity", "a.pem", "--peers", "a-peers.json", "--state", "a.state", "-i", "a.csv"]
    b = ["--identity", "b.pem", "--peers", "b-peers.json", "--state", "b.state", "-i", "b.csv"]

    def ok(*args: str) -> None:
        r = cli("psi", *args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr

    before = cluster.scheduler.transition_counter
    ok("initiate", *a, "--peer", "lab-b", "--mode", "mutual", *common, "--out", "m0.bin")
    ok("respond", *b, "--message", "m0.bin", "--max-own-items", "128", "--out", "m1.bin")
    refused = cli("psi", "continue", "--state", "a.state", "--message", "m1.bin", "--executor",
                  f"dask://{address}", cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "tls://" in refused.stderr
    ok("continue", "--state", "a.state", "--message", "m1.bin", "--out", "m2.bin", *dask)
    ok("continue", "--state", "b.state", "--message", "m2.bin", "--out", "m3.bin", *dask)
    ok("finish", "--state", "a.state", "--message", "m3.bin", "--out", "m4.bin", *dask)
    ok("finish", "--state", "b.state", "--message", "m4.bin")
    assert cluster.scheduler.transition_counter > before  # the work ran on the cluster
    reports = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*-report.json"))]
    assert len(reports) == 2
    assert all(len(r["matches"]) == 20 for r in reports)


def test_cli_connect_and_serve_with_executor(cluster: Any, tmp_path: Path) -> None:
    """serve runs each session in a thread of its own: the client is used from there."""
    make_lab_keys(tmp_path)
    write_csv(tmp_path / "a.csv", [("email", f"u{i}@example.org") for i in range(30)])
    write_csv(tmp_path / "b.csv", [("email", f"u{i}@example.org") for i in range(10, 50)])
    dask = ["--executor", "dask://" + cluster.scheduler_address.removeprefix("tcp://"), "--executor-insecure"]
    before = cluster.scheduler.transition_counter
    server, port = serve(tmp_path, tmp_path, "b.csv", 128, *dask)
    try:
        r = cli("connect", "--identity", "a.pem", "--peers", "a-peers.json", "--peer", "lab-b", "--port",
                port, "-i", "a.csv", "--purpose", "t", "--max-items", "128", "--mode", "mutual",
                "--out-dir", "a-out", *dask, cwd=tmp_path)  # fmt: skip
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0, r.stderr
    assert server.returncode == 0, err
    for side in ("a-out", "b-out"):
        report = json.loads(next((tmp_path / side).glob("*-report.json")).read_text())
        assert len(report["matches"]) == 20
    assert cluster.scheduler.transition_counter > before


def _ns(**kw: Any) -> argparse.Namespace:
    base = {"executor": None, "executor_insecure": False, "executor_tls_ca": None,
            "executor_tls_cert": None, "executor_tls_key": None}  # fmt: skip
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"executor": "dask://127.0.0.1:1", "workers": 2}, "not both"),
        ({"executor": "tls://127.0.0.1:1"}, "--executor-tls-ca"),
        ({"executor": "dask://192.0.2.1:8786", "executor_insecure": True}, "loopback"),
        ({"executor": "dask://192.0.2.1:8786"}, "not tls://"),
        ({"executor": "http://x:1"}, "expected tls://"),
        ({"executor_insecure": True}, "need --executor"),
    ],
)
def test_cli_executor_usage_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(CliError, match=message) as info, executor_scope(_ns(**kw)):
        pass
    assert info.value.code == ExitCode.USAGE


def test_cli_executor_spec_forms() -> None:
    assert parse_executor_spec("dask://h:1") == ("tcp://h:1", None)
    assert parse_executor_spec("tls://h:1") == ("tls://h:1", None)
    assert parse_executor_spec("dask-scheduler-file:/x/s.json") == (None, "/x/s.json")


def test_a_streaming_exchange_on_dask_is_identical(dask_ex: DaskExecutor, tmp_path: Path) -> None:
    """The streaming parties' group work (blinding each input chunk, hashing each peer frame) on the
    cluster: the same matches, transcript hash and signatures as in this process."""
    from blindmatch.session import Identity
    from blindmatch.streaming import run_streaming_in_memory

    a = [f"a{i}".encode() for i in range(3000)]
    b = [f"a{i}".encode() for i in range(1500, 4000)]
    common: dict[str, Any] = dict(
        session_key=bytes(32), session_id=bytes(16), initiator_identity=Identity.from_seed(b"i" * 32),
        responder_identity=Identity.from_seed(b"r" * 32), seeds=(b"s" * 32, b"t" * 32), chunk_items=1024,
        frame_items=512,
    )  # fmt: skip
    (tmp_path / "one").mkdir()
    (tmp_path / "dask").mkdir()
    here = run_streaming_in_memory(a, b, "mutual", workdir=tmp_path / "one", **common)
    there = run_streaming_in_memory(a, b, "mutual", workdir=tmp_path / "dask", executor=dask_ex, **common)
    for x, y in zip(here, there, strict=True):
        assert (x.count, x.transcript_hash, x.initiator_signature, x.responder_signature) == (
            y.count,
            y.transcript_hash,
            y.initiator_signature,
            y.responder_signature,
        )
        assert list(x.matched_indices) == list(y.matched_indices)  # type: ignore[arg-type]
    assert here[0].count == 1500
