"""``connect --engine stream`` / ``serve --allow-engine stream``: a streaming exchange over loopback TCP with
real subprocesses; its matches equal the default engine's and both records verify."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv

from blindmatch.session import Identity, verify_record
from blindmatch.session.manifest import STREAM_OT_PSI_SUITE, STREAM_PSI_SUITE


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("streamlab")
    make_lab_keys(d)
    shared = [("email", f"s{i}@example.org") for i in range(12)]
    write_csv(d / "lab_a.csv", shared + [("email", f"a{i}@example.net") for i in range(30)])
    write_csv(
        d / "lab_b.csv", [("ip", "203.0.113.9"), *shared, *[("email", f"b{i}@example.net") for i in range(9)]]
    )
    return d


def _exchange(lab: Path, w: Path, mode: str, *engine: str) -> tuple[dict[str, Any], ...]:
    allow = ("--allow-engine", engine[1], *engine[2:]) if engine else ()
    server, port = serve(lab, w, "lab_b.csv", 64, *allow)
    try:
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"), "--peer",
                "lab-b", "--host", "127.0.0.1", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose",
                "stream test", "--max-items", "64", "--mode", mode, "--out-dir", str(w / "a-out"), *engine,
                cwd=w)  # fmt: skip
        _, err = server.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0, r.stderr
    assert server.returncode == 0, err
    docs = []
    for side in ("a-out", "b-out"):
        for what in ("report", "record"):
            docs.append(json.loads(next((w / side).glob(f"*-{what}.json")).read_text()))
    return tuple(docs)


def _matches(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["kind"], m["canonical"]) for m in report["matches"]}


@pytest.mark.parametrize(
    ("mode", "engine", "suite"),
    [("mutual", "stream", STREAM_PSI_SUITE), ("mutual", "stream-ot", STREAM_OT_PSI_SUITE)],
)
def test_stream_engine_over_tcp_matches_the_default_engine(
    lab: Path, tmp_path: Path, mode: str, engine: str, suite: str
) -> None:
    (tmp_path / "dh").mkdir()
    (tmp_path / "st").mkdir()
    rep_a, _, rep_b, _ = _exchange(lab, tmp_path / "dh", mode)
    s_rep_a, s_rec_a, s_rep_b, s_rec_b = _exchange(
        lab, tmp_path / "st", mode, "--engine", engine, "--chunk-items", "8", "--bucket-items", "8"
    )
    assert len(_matches(rep_a)) == 12
    assert _matches(s_rep_a) == _matches(rep_a) and _matches(s_rep_b) == _matches(rep_b)
    assert s_rep_a["count"] == rep_a["count"] == 12
    a_key = Identity.load(lab / "a.pem").public
    b_key = Identity.load(lab / "b.pem").public
    for rec, key in ((s_rec_a, a_key), (s_rec_b, b_key)):
        verified = verify_record(rec, key)
        assert verified["outcome"]["status"] == "completed"
        assert verified["versions"]["psi_suite"] == suite
    assert s_rec_a["transcript_hash"] == s_rec_b["transcript_hash"]
    for side in ("a-out", "b-out"):  # spill folders are gone
        assert not any((tmp_path / "st" / side / "stream-tmp").iterdir())


def test_stream_engine_refused_unless_allowed(lab: Path, tmp_path: Path) -> None:
    server, port = serve(lab, tmp_path, "lab_b.csv", 64)
    try:
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"), "--peer",
                "lab-b", "--host", "127.0.0.1", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose",
                "stream test", "--max-items", "64", "--out-dir", str(tmp_path / "a-out"),
                "--engine", "stream",
                cwd=tmp_path)  # fmt: skip
        server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode != 0 and "engine" in r.stderr


def test_operator_mistakes_with_the_spill_folder(lab: Path, tmp_path: Path) -> None:
    """--stream-workdir naming a file, or a folder that is re-used (left from a killed run), on either
    side: a clean error or a normal run, never a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"), "--peer",
            "lab-b", "--host", "127.0.0.1", "--port", "9", "-i", str(lab / "lab_a.csv"), "--purpose",
            "stream test", "--max-items", "64", "--out-dir", str(tmp_path / "a-out"), "--engine", "stream-ot",
            "--stream-workdir", str(blocker / "sub"), cwd=tmp_path)  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr and "cannot make" in r.stderr
    # a spill folder left behind by a killed run, and a symlink to it: the next run works beside it
    old = tmp_path / "spill"
    (old / "bm-stream-left").mkdir(parents=True)
    (tmp_path / "spill-link").symlink_to(old)
    w = tmp_path / "again"
    w.mkdir()
    server, port = serve(lab, w, "lab_b.csv", 64, "--allow-engine", "stream-ot", "--stream-workdir", str(old))
    try:
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"), "--peer",
                "lab-b", "--host", "127.0.0.1", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose",
                "stream test", "--max-items", "64", "--out-dir", str(w / "a-out"), "--engine", "stream-ot",
                "--stream-workdir", str(tmp_path / "spill-link"), cwd=w)  # fmt: skip
        _, err = server.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0, r.stderr
    assert server.returncode == 0, err
    assert sorted(p.name for p in old.iterdir()) == ["bm-stream-left"]  # ours gone, the stranger's kept


def test_files_made_by_other_tools_through_both_streaming_engines(tmp_path: Path) -> None:
    """MISP's STIX 2.1 patterns on one side, a MISP event with objects on the other (real exports, 5
    indicators in common): the streaming engines find what the default engine finds."""
    data = Path(__file__).parent / "data"
    make_lab_keys(tmp_path)
    shutil.copy(data / "misp_stix21_patterns.json", tmp_path / "a.json")
    shutil.copy(data / "misp_objects_event.json", tmp_path / "b.json")
    found = {}
    for engine in ("dh", "stream", "stream-ot"):
        w = tmp_path / engine
        w.mkdir()
        server, port = serve(tmp_path, w, "b.json", 64, "--allow-engine", engine)
        try:
            r = cli("connect", "--identity", str(tmp_path / "a.pem"), "--peers",
                    str(tmp_path / "a-peers.json"), "--peer", "lab-b", "--host", "127.0.0.1", "--port", port,
                    "-i", str(tmp_path / "a.json"),
                    "--purpose", "real files", "--max-items", "64", "--mode", "mutual", "--out-dir",
                    str(w / "a-out"), "--engine", engine, cwd=w)  # fmt: skip
            _, err = server.communicate(timeout=120)
        finally:
            if server.poll() is None:
                server.kill()
        assert r.returncode == 0, r.stderr
        assert server.returncode == 0, err
        found[engine] = tuple(
            _matches(json.loads(next((w / side).glob("*-report.json")).read_text()))
            for side in ("a-out", "b-out")
        )
    assert len(found["dh"][0]) == 5 and found["dh"][0] == found["dh"][1]
    assert found["stream"] == found["stream-ot"] == found["dh"]
