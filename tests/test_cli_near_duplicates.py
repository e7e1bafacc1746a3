"""``--near-duplicates``: prompts matched as near-duplicates over TCP and over message files, a profile
mismatch refused, and failed TCP sessions that still leave a signed record on disk (subprocesses; the
labs are shared by the whole module to keep it quick)."""

from __future__ import annotations

import csv
import json
import random
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv

from blindmatch.canonical import canonicalize
from blindmatch.fingerprints import fingerprint_prompts, get_profile
from blindmatch.session import Identity, InitiatorSession, PeerStore, verify_record

WORDS = [
    "account", "model", "output", "policy", "token", "rate", "limit", "request", "batch", "answer", "reason",
    "step", "detail", "format", "list", "table", "summary", "code", "test", "review", "safety", "chain",
    "prompt", "system", "user", "agent", "data", "record", "field", "value", "query", "index", "cluster",
    "region", "market", "price", "supply", "order", "risk", "signal", "trend", "report", "draft", "letter",
    "story", "poem",
]  # fmt: skip


def _prompt(rng: random.Random, n: int = 45) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _variant(p: str, rng: random.Random) -> str:
    """A near-duplicate: other case and spacing, one word replaced, a short prefix."""
    words = p.split()
    words[rng.randrange(len(words))] = "zebra"
    return "Please:  " + "  ".join(words).upper()


rng = random.Random(7)
BASE = [_prompt(rng) for _ in range(8)]
A_PROMPTS = BASE[:6]  # A's prompts: 0-2 have near-duplicates at B, 3-5 do not
B_PROMPTS = [_variant(p, rng) for p in BASE[:3]] + [_prompt(rng) for _ in range(4)]
EMAILS = ["shared@example.org"]


def _direct(own: list[str], other: list[str], profile: str = "default") -> set[str]:
    """Our canonical prompts that share a band with the other side's: the expected PSI outcome."""
    mine, theirs = fingerprint_prompts(own, profile), fingerprint_prompts(other, profile)
    their_bands = {v for bands in theirs.bands for v in bands}
    return {canonicalize("prompt", own[i]) for i, bands in zip(mine.indices, mine.bands, strict=True)
            if set(bands) & their_bands}  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("near")
    make_lab_keys(d)
    write_csv(d / "a.csv", [("prompt", p) for p in A_PROMPTS] + [("email", e) for e in [*EMAILS, "a@x.org"]])
    write_csv(d / "b.csv", [("prompt", p) for p in B_PROMPTS] + [("email", e) for e in [*EMAILS, "b@x.org"]])
    return d


def test_the_data_has_known_near_duplicates() -> None:
    assert _direct(A_PROMPTS, B_PROMPTS) == {canonicalize("prompt", p) for p in A_PROMPTS[:3]}
    assert _direct(B_PROMPTS, A_PROMPTS) == {canonicalize("prompt", p) for p in B_PROMPTS[:3]}
    assert not {canonicalize("prompt", p) for p in A_PROMPTS} & {canonicalize("prompt", p) for p in B_PROMPTS}


def _check_report(path: Path, own: list[str], other: list[str], origin_file: str) -> None:
    rep = json.loads(path.read_text())
    assert {(m["kind"], m["canonical"]) for m in rep["matches"]} == {("email", e) for e in EMAILS}
    near = rep["near_duplicates"]
    assert near["profile"] == {"name": "default", "tag": get_profile("default").tag}
    got = {m["canonical"] for m in near["matches"]}
    assert got == _direct(own, other) and near["prompts"] == 3
    for m in near["matches"]:
        assert m["value"] in own and Path(m["origin"]).name.startswith(origin_file + ":")
        assert 1 <= m["bands_matched"] <= m["bands"] == 11
        assert 0 <= m["similarity_low"] <= m["similarity"] <= m["similarity_high"] <= 1
        assert m["similarity"] > 0.5
    csv_path = path.with_name(path.name.replace("report.json", "near-duplicates.csv"))
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert {r["canonical"] for r in rows} == got and {r["value"] for r in rows} <= set(own)


def _check_record(path: Path, key: Path, status: str = "completed") -> dict:  # type: ignore[type-arg]
    rec = verify_record(path.read_text(), Identity.load(key).public)
    assert rec["outcome"]["status"] == status
    text = path.read_text().lower()
    for p in A_PROMPTS + B_PROMPTS:
        assert " ".join(p.lower().split()[:4]) not in text
    return rec


# ---- TCP ---------------------------------------------------------------------------------------------


def _serve(lab: Path, w: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    return serve(lab, w, "b.csv", 128, *extra)


def _connect(lab: Path, w: Path, port: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
               "--peer", "lab-b", "--port", port, "-i", str(lab / "a.csv"), "--purpose", "near-dup test",
               "--max-items", "128", "--out-dir", str(w / "a-out"), *extra, cwd=w)  # fmt: skip


def _run_tcp(
    lab: Path, w: Path, serve: tuple[str, ...], connect: tuple[str, ...]
) -> tuple[subprocess.CompletedProcess[str], int, str, str]:
    server, port = _serve(lab, w, *serve)
    try:
        r = _connect(lab, w, port, *connect)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    return r, server.returncode, out, err


def test_tcp_mutual(lab: Path, tmp_path: Path) -> None:
    r, code, out, err = _run_tcp(
        lab, tmp_path, ("--near-duplicates", "default"), ("--near-duplicates", "default", "--mode", "mutual")
    )
    assert r.returncode == 0, r.stderr
    assert code == 0, err
    _check_report(next((tmp_path / "a-out").glob("*-report.json")), A_PROMPTS, B_PROMPTS, "a.csv")
    _check_report(next((tmp_path / "b-out").glob("*-report.json")), B_PROMPTS, A_PROMPTS, "b.csv")
    for text in (r.stdout, out):
        assert "near-duplicate prompts (profile default" in text and "3 of ours" in text
        assert "bands " in text and "/11, similarity ~" in text
    ra = _check_record(next((tmp_path / "a-out").glob("*-record.json")), lab / "a.pem")
    rb = _check_record(next((tmp_path / "b-out").glob("*-record.json")), lab / "b.pem")
    assert ra["prompt_profile"] == rb["prompt_profile"] == get_profile("default").tag
    assert ra["kinds"] == ["email", "prompt-band"]


def test_tcp_profile_mismatch_is_refused(lab: Path, tmp_path: Path) -> None:
    r, code, _, err = _run_tcp(lab, tmp_path, ("--near-duplicates", "strict"), ("--near-duplicates", "loose"))
    assert r.returncode == 4 and "prompt fingerprint profiles differ" in r.stderr
    assert code == 0 and "refused" in err
    rec = _check_record(next((tmp_path / "a-out").glob("*-record.json")), lab / "a.pem", "refused")
    assert rec["own_set_sent"] is False and rec["prompt_profile"] == get_profile("loose").tag
    assert not list((tmp_path / "a-out").glob("*report.json"))


# ---- message files -----------------------------------------------------------------------------------


def _initiate(lab: Path, w: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("psi", "initiate", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
               "--peer", "lab-b", "-i", str(lab / "a.csv"), "--purpose", "near-dup test", "--max-items",
               "128", "--state", "a.state", *extra, cwd=w)  # fmt: skip


def _respond(lab: Path, w: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("psi", "respond", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json"),
               "-i", str(lab / "b.csv"), "--in", "a-msg0.bin", "--state", "b.state",
               "--max-own-items", "128", *extra,
               cwd=w)  # fmt: skip


def test_file_flow_mutual(lab: Path, tmp_path: Path) -> None:
    w = tmp_path
    nd = ("--near-duplicates", "default")
    assert _initiate(lab, w, *nd, "--mode", "mutual").returncode == 0
    assert _respond(lab, w, *nd).returncode == 0
    for who, msg in (("a", "b-msg1.bin"), ("b", "a-msg2.bin"), ("a", "b-msg3.bin")):
        r = cli("psi", "continue", "--state", f"{who}.state", "--in", msg, cwd=w)
        assert r.returncode == 0, r.stderr
    assert "near-duplicate prompts (profile default" in r.stdout
    r = cli("psi", "finish", "--state", "b.state", "--in", "a-msg4.bin", cwd=w)
    assert r.returncode == 0, r.stderr
    assert not (w / "a.state").exists() and not (w / "b.state").exists()
    _check_report(w / "a-report.json", A_PROMPTS, B_PROMPTS, "a.csv")
    _check_report(w / "b-report.json", B_PROMPTS, A_PROMPTS, "b.csv")
    _check_record(w / "a-record.json", lab / "a.pem")
    _check_record(w / "b-record.json", lab / "b.pem")


@pytest.mark.parametrize(
    ("a_opts", "b_opts", "words"),
    [
        (("--near-duplicates", "default"), (), "is not offered by this responder"),
        ((), ("--near-duplicates", "default"), "exact prompts are not offered"),
        (("--near-duplicates", "strict"), ("--near-duplicates", "default"), "profiles differ"),
    ],
)
def test_file_flow_mismatch_is_refused(
    lab: Path, tmp_path: Path, a_opts: tuple[str, ...], b_opts: tuple[str, ...], words: str
) -> None:
    w = tmp_path
    assert _initiate(lab, w, *a_opts).returncode == 0
    r = _respond(lab, w, *b_opts)
    assert r.returncode == 0 and "refused the proposal" in r.stdout and words in r.stdout
    r = cli("psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", cwd=w)
    assert r.returncode == 4 and words in r.stderr
    _check_record(w / "a-record.json", lab / "a.pem", "refused")


def test_cap_counts_band_items(lab: Path, tmp_path: Path) -> None:
    r = _initiate(lab, tmp_path, "--near-duplicates", "default", "--max-items", "20")
    assert r.returncode == 2 and "prompt-band items of 6 prompts" in r.stderr and "at most 66" in r.stderr


# ---- failed TCP sessions leave a signed record -------------------------------------------------------


@pytest.fixture
def hangup_server() -> Iterator[int]:
    """Reads one frame, announces 256 bytes, sends 7 and hangs up."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def handle() -> None:
        conn, _ = srv.accept()
        with conn:
            n = int.from_bytes(conn.recv(4), "big")
            got = 0
            while got < n:
                chunk = conn.recv(n - got)
                if not chunk:
                    break
                got += len(chunk)
            conn.sendall(b"\x00\x00\x01\x00partial")

    threading.Thread(target=handle, daemon=True).start()
    yield int(srv.getsockname()[1])
    srv.close()


def test_connect_records_a_peer_that_hangs_up(lab: Path, tmp_path: Path, hangup_server: int) -> None:
    r = _connect(lab, tmp_path, str(hangup_server), "--near-duplicates", "default")
    assert r.returncode == 4 and "closed the connection" in r.stderr
    rec = _check_record(next((tmp_path / "a-out").glob("*-record.json")), lab / "a.pem", "failed")
    assert rec["outcome"]["error"] == "aborted" and "PeerDisconnected" in rec["outcome"]["reason"]
    assert not list((tmp_path / "a-out").glob("*report.json"))


def test_serve_records_an_initiator_that_stalls(lab: Path, tmp_path: Path) -> None:
    server, port = _serve(lab, tmp_path, "--timeout", "1")
    a = Identity.load(lab / "a.pem")
    b = PeerStore.load(lab / "a-peers.json").get("lab-b").public
    hello = InitiatorSession(a, b, items_by_kind={"email": EMAILS}, max_items=128, purpose="stall").start()
    try:
        with socket.create_connection(("127.0.0.1", int(port))) as s:
            s.sendall(len(hello).to_bytes(4, "big") + hello)
            s.recv(4)  # the accept arrives; we never answer
            _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 4 and "no data from the peer" in err
    rec = _check_record(next((tmp_path / "b-out").glob("*-record.json")), lab / "b.pem", "failed")
    assert "PeerTimeout" in rec["outcome"]["reason"] and rec["peer"]["name"] == "lab-a"
    assert next((tmp_path / "b-out").glob("*-record.json")).name.startswith("lab-a-")
