"""The published-set commands end to end, in process: ``publish``, ``published show|retire|log-add|
log-check``, ``serve --publish-key`` answering queries (and still exchanges) and ``query`` over loopback,
with the failure cases (forged, expired, wrong publisher, budget, overwrite, unwritable output)."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_support import make_lab_keys, write_csv

from blindmatch.cli._app import main
from blindmatch.errors import LocalProtocolError
from blindmatch.psi import IndicatorItems
from blindmatch.published import EpochKey, build_file, verify_query_record
from blindmatch.session import Identity, PeerStore
from blindmatch.session.channel import HEADER_BYTES, MAGIC
from blindmatch.transport.dispatch import DispatchingParty

PUBLISHED = [
    ("email", "Evil@Example.COM"),
    ("email", "bad@example.org"),
    ("ip", "203.0.113.7"),
    ("domain", "evil.example"),
    ("url", "http://evil.example/x"),
]
LABELS = [
    {"kind": "email", "value": "EVIL@example.com", "label": {"campaign": "c1", "confidence": 90}},
    {"kind": "ip", "value": "203.0.113.7", "label": {"first_seen": "2026-11-01"}},
]
OURS = [
    ("email", "evil@example.com"),
    ("email", "good@example.net"),
    ("ip", "203.0.113.7"),
    ("ip", "198.51.100.1"),
    ("domain", "fine.example"),
]


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    make_lab_keys(tmp_path)  # a = the querier (peers: lab-b), b = the publisher (peers: lab-a)
    write_csv(tmp_path / "pub.csv", PUBLISHED)
    write_csv(tmp_path / "ours.csv", OURS)
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in LABELS))
    return tmp_path


def run(*argv: str) -> int:
    return main(list(argv))


def publish(lab: Path, out: str, inputs: str = "pub.csv", *extra: str) -> int:
    return main(["publish", "-q", "--identity", str(lab / "b.pem"), "--epoch", "2026-12", "--key",
                 str(lab / "e.key"), "--out", str(lab / out), "-i", str(lab / inputs), *extra])  # fmt: skip


@contextmanager
def serving(
    lab: Path, sessions: int, *extra: str, rc_wanted: int = 0, inputs: bool = True
) -> Iterator[str]:
    """``serve`` for ``sessions`` sessions in a thread; yields its port, then waits for it to end."""
    port_file = lab / f"port-{time.monotonic_ns()}"
    rc: list[int] = []
    argv = ["serve", "-q", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json"),
            "--max-sessions", str(sessions), "--port-file", str(port_file),
            "--out-dir", str(lab / "b-out"), "--max-own-items", "64", *extra]  # fmt: skip
    argv += ["-i", str(lab / "pub.csv")] if inputs else []
    t = threading.Thread(target=lambda: rc.append(main(argv)), daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        assert t.is_alive() and time.monotonic() < deadline, f"serve did not start ({rc})"
        time.sleep(0.02)
    yield port_file.read_text().strip()
    t.join(30)
    assert not t.is_alive() and rc == [rc_wanted], rc


def query(lab: Path, port: str, files: list[str], *extra: str, inputs: str = "ours.csv") -> int:
    argv = ["query", "-q", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
            "--publisher", "lab-b", "--connect", f"127.0.0.1:{port}", "-i", str(lab / inputs),
            "--out-dir", str(lab / "a-out")]  # fmt: skip
    for f in files:
        argv += ["--file", str(lab / f)]
    return main([*argv, *extra])


def latest(folder: Path, suffix: str) -> dict:  # type: ignore[type-arg]
    """The newest ``*suffix`` file of ``folder`` (``-report.json``: an exchange's, not a query's)."""
    paths = [p for p in folder.glob(f"*{suffix}") if suffix.startswith("query") or "-query-" not in p.name]
    path = max(paths, key=lambda p: p.stat().st_mtime_ns)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def serve_keys(*files: str) -> list[str]:
    out = ["--publish-key", "e.key"]
    for f in files:
        out += ["--published", f]
    return out


def _abs(lab: Path, args: list[str]) -> list[str]:
    return [str(lab / a) if a.endswith((".key", ".bmps")) else a for a in args]


# -- the whole flow ---------------------------------------------------------------------------------------


def test_publish_show_serve_query(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps", "pub.csv", "--labels", str(lab / "labels.jsonl")) == 0
    assert stat.S_IMODE((lab / "e.key").stat().st_mode) == 0o600
    capsys.readouterr()
    pub_text = Identity.load(lab / "b.pem").public.to_text()
    assert main(["published", "show", str(lab / "base.bmps"), "--json", "--publisher", pub_text]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["type"] == "base" and shown["sequence"] == 0 and shown["epoch"] == "2026-12"
    assert shown["counts"] == {"domain": 1, "email": 2, "ip": 1, "url": 1} and shown["label_bytes"] == 64
    assert shown["publisher_fingerprint"] == Identity.load(lab / "b.pem").fingerprint and shown["valid_now"]
    assert shown["tag_bits"] >= 40 + 24  # 40 + log2(n * Q), Q = 2^24 by default
    with serving(lab, 4, *_abs(lab, serve_keys("base.bmps"))) as port:
        assert query(lab, port, ["base.bmps"], "--no-verify") == 0
        assert latest(lab / "a-out", "query-report.json")["verified"] is False
        assert query(lab, port, ["base.bmps"]) == 0
        rep = latest(lab / "a-out", "query-report.json")
        found = {(m["kind"], m["value"]): m["label"] for m in rep["matches"]}
        assert found == {
            ("email", "evil@example.com"): {"campaign": "c1", "confidence": 90},
            ("ip", "203.0.113.7"): {"first_seen": "2026-11-01"},
        }
        assert rep["queried"] == {"domain": 1, "email": 2, "ip": 2} and "not verdicts" in rep["matches_are"]
        write_csv(lab / "none.csv", [("email", "nobody@example.net")])
        assert query(lab, port, ["base.bmps"], inputs="none.csv") == 1  # nothing found
        # the same port still answers exchanges
        r = main(["connect", "-q", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
                  "--peer", "lab-b", "--port", port, "-i", str(lab / "ours.csv"), "--purpose", "t",
                  "--max-items", "64", "--out-dir", str(lab / "a-out")])  # fmt: skip
        assert r == 0
    assert {(m["kind"], m["canonical"]) for m in latest(lab / "a-out", "-report.json")["matches"]} == {
        ("email", "evil@example.com"), ("ip", "203.0.113.7")
    }  # fmt: skip
    a, b = Identity.load(lab / "a.pem").public, Identity.load(lab / "b.pem").public
    records = sorted((lab / "a-out").glob("*query-record.json")) + sorted(
        (lab / "b-out").glob("*query-record.json")
    )
    assert len(records) == 6
    for path in records:
        text = path.read_text()
        assert "evil@example.com" not in text and "campaign" not in text and "203.0.113.7" not in text
        rec = verify_query_record(text, a if path.parent.name == "a-out" else b)
        assert rec["outcome"] == "completed"


def test_delta_withdrawal_and_log(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps", "pub.csv", "--labels", str(lab / "labels.jsonl")) == 0
    write_csv(lab / "delta.csv", [("domain", "fine.example")])
    write_csv(lab / "withdraw.csv", [("ip", "203.0.113.7")])
    assert publish(lab, "d1.bmps", "delta.csv", "--delta") == 0
    assert publish(lab, "w2.bmps", "withdraw.csv", "--withdraw") == 0
    assert EpochKey.load(lab / "e.key").next_sequence == 3
    log = str(lab / "host.log")
    for f in ("base.bmps", "d1.bmps", "w2.bmps"):
        assert run("published", "log-add", "--log", log, str(lab / f)) == 0
    assert run("published", "log-add", "--log", log, str(lab / "d1.bmps")) == 4  # its place is taken
    assert run("published", "log-check", "--log", log, *(str(lab / f) for f in ("base.bmps", "w2.bmps"))) == 0
    write_csv(lab / "three.csv", [("email", f"x{i}@example.net") for i in range(3)])
    with serving(lab, 2, *_abs(lab, serve_keys("base.bmps", "d1.bmps", "w2.bmps"))) as port:
        assert query(lab, port, ["base.bmps"], "--padding", "pow2", inputs="three.csv") == 1
        padded = latest(lab / "a-out", "query-report.json")
        assert padded["queried"] == {"email": 3} and padded["disclosed_counts"] == {"email": 4}
        assert query(lab, port, ["w2.bmps", "base.bmps", "d1.bmps"], "--log", log) == 0
    rep = latest(lab / "a-out", "query-report.json")
    assert {(m["kind"], m["value"], m["file_sequence"]) for m in rep["matches"]} == {
        ("email", "evil@example.com", 0), ("domain", "fine.example", 1)
    }  # fmt: skip
    assert rep["withdrawn"] == [{"kind": "ip", "value": "203.0.113.7"}] and rep["log"]["length"] == 3
    assert query(lab, "1", ["base.bmps", "d1.bmps"], "--log", log) == 4  # the withdrawal held back
    assert "more file(s)" in capsys.readouterr().err
    # a file the log does not show is refused before anything is sent
    (lab / "other.log").write_bytes(b"")
    assert query(lab, "1", ["base.bmps"], "--log", str(lab / "other.log")) == 4
    assert "no entry" in capsys.readouterr().err


def test_budget_refusal_survives_restart(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    args = [*_abs(lab, serve_keys("base.bmps")), "--store", str(lab / "s.sqlite3"), "--query-caps", "email=3"]
    with serving(lab, 1, *args) as port:
        assert query(lab, port, ["base.bmps"]) == 0  # 2 of the 3 email evaluations
    capsys.readouterr()
    with serving(lab, 1, *args) as port:
        assert query(lab, port, ["base.bmps"]) == 4
    err = capsys.readouterr().err
    assert "evaluation budget" in err and "2 of its 3" not in err  # the wire reason: no counts, no names
    rec = latest(lab / "a-out", "query-record.json")
    assert rec["outcome"] == "refused"


# -- refusals ---------------------------------------------------------------------------------------------


def test_forged_file_is_refused(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    data = bytearray((lab / "base.bmps").read_bytes())
    data[len(data) // 2] ^= 1
    (lab / "forged.bmps").write_bytes(bytes(data))
    (lab / "junk.bmps").write_bytes(b"not a published file at all, not at all, not at all" * 3)
    for name in ("forged.bmps", "junk.bmps"):
        assert run("published", "show", str(lab / name)) == 4
        assert run("published", "log-add", "--log", str(lab / "host.log"), str(lab / name)) == 4
        assert query(lab, "1", [name]) == 4
    assert not (lab / "host.log").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_serve_without_published_files(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    with serving(lab, 1, rc_wanted=4) as port:  # a plain exchange server: the query is no hello
        assert query(lab, port, ["base.bmps"]) == 4
        assert main(["connect", "-q", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
                     "--peer", "lab-b", "--port", port, "-i", str(lab / "ours.csv"), "--purpose", "t",
                     "--max-items", "64", "--out-dir", str(lab / "a-out")]) == 0  # fmt: skip
    assert "does not answer queries" in capsys.readouterr().err
    assert not list((lab / "b-out").glob("*query-record.json"))


def test_serve_refuses_files_and_keys_not_ours(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    base = ["serve", "-q", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
            "--out-dir", str(lab / "a-out")]  # fmt: skip
    assert main([*base, "--published", str(lab / "base.bmps"), "--publish-key", str(lab / "e.key")]) == 2
    assert "another identity" in capsys.readouterr().err
    assert main([*base, "--published", str(lab / "base.bmps")]) == 2  # a file without its key
    assert main([*base, "--query-caps", "ip=x"]) == 2


def test_serve_answers_queries_only(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    assert main(["serve", "-q", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json")]) == 2
    assert "--input" in capsys.readouterr().err
    with serving(lab, 1, *_abs(lab, serve_keys("base.bmps")), inputs=False, rc_wanted=4) as port:
        assert main(["connect", "-q", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
                     "--peer", "lab-b", "--port", port, "-i", str(lab / "ours.csv"), "--purpose", "t",
                     "--max-items", "64", "--out-dir", str(lab / "a-out")]) == 4  # fmt: skip
        assert query(lab, port, ["base.bmps"]) == 0
    assert {m["value"] for m in latest(lab / "a-out", "query-report.json")["matches"]} == {
        "evil@example.com", "203.0.113.7"
    }  # fmt: skip


def _expired_file(lab: Path) -> None:
    ident = Identity.load(lab / "b.pem")
    now = int(time.time())
    key = EpochKey.generate(ident, "2026-10", not_before=now - 90 * 86400, not_after=now - 60 * 86400,
                            tag_bits=64, label_bytes=0, evaluations=1 << 20, canon_version=1)  # fmt: skip
    items = IndicatorItems({"email": ["evil@example.com"]}, canon_version=1)
    data, _ = build_file(ident, key, items)
    (lab / "old.bmps").write_bytes(data)


def test_expired_and_wrong_publisher(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _expired_file(lab)
    assert run("published", "show", str(lab / "old.bmps")) == 0
    assert "NOT VALID NOW" in capsys.readouterr().out
    assert query(lab, "1", ["old.bmps"]) == 4
    assert "expired" in capsys.readouterr().err
    assert publish(lab, "base.bmps") == 0
    other = Identity.generate()
    peers = PeerStore.load(lab / "a-peers.json")
    peers.add("lab-c", other.public)
    peers.save(lab / "a-peers.json")
    assert query(lab, "1", ["base.bmps"], "--publisher", "lab-c") == 4
    assert "another publisher" in capsys.readouterr().err
    assert run("published", "show", str(lab / "base.bmps"), "--publisher", other.public.to_text()) == 4
    assert query(lab, "1", ["base.bmps"], "--publisher", "nobody") == 4


def test_publish_never_overwrites(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    before, key_before = (lab / "base.bmps").read_bytes(), (lab / "e.key").read_bytes()
    assert publish(lab, "base.bmps") == 5  # the file exists
    assert publish(lab, "base2.bmps") == 5  # the epoch key exists: a base starts a new epoch
    assert publish(lab, "base.bmps", "pub.csv", "--delta") == 5
    assert "exists" in capsys.readouterr().err
    assert (lab / "base.bmps").read_bytes() == before and (lab / "e.key").read_bytes() == key_before
    assert not (lab / "base2.bmps").exists()
    assert publish(lab, "d.bmps", "pub.csv", "--delta", "--label-bytes", "32") == 2  # set by the base only


def test_unwritable_output(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (lab / "plain-file").write_text("x")
    assert publish(lab, "plain-file/base.bmps") == 5  # not a folder: a clean error even for root
    assert "cannot write" in capsys.readouterr().err and not (lab / "e.key").exists()
    assert publish(lab, "base.bmps") == 0
    assert query(lab, "1", ["base.bmps"], "--out-dir", str(lab / "plain-file" / "out")) == 5
    assert "nothing was sent" in capsys.readouterr().err
    (lab / "e.key").unlink()
    if os.geteuid() == 0:
        return  # root writes into read-only folders
    ro = lab / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert publish(lab, "ro/base.bmps") == 5
        assert "Permission denied" in capsys.readouterr().err and not (lab / "e.key").exists()
    finally:
        ro.chmod(0o700)


def test_bad_labels_name_the_line_not_the_value(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (lab / "bad.jsonl").write_text(json.dumps({"kind": "email", "value": "secret-not-an-email",
                                               "label": {"a": 1}}) + "\n")  # fmt: skip
    assert publish(lab, "base.bmps", "pub.csv", "--labels", str(lab / "bad.jsonl")) == 3
    err = capsys.readouterr().err
    assert "labels line 1" in err and "secret-not-an-email" not in err
    assert not (lab / "base.bmps").exists() and not (lab / "e.key").exists()


def test_retire(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(lab, "base.bmps") == 0
    (lab / "not-a-key").write_text("keep me")
    (lab / "not-a-key").chmod(0o600)
    assert run("published", "retire", "--key", str(lab / "not-a-key")) == 5
    assert (lab / "not-a-key").read_text() == "keep me"
    assert run("published", "retire", "--key", str(lab / "e.key")) == 0
    assert not (lab / "e.key").exists()
    assert run("published", "retire", "--key", str(lab / "e.key")) == 5
    assert main(["serve", "-q", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json"), "-i",
                 str(lab / "pub.csv"), "--out-dir", str(lab / "b-out"),
                 *_abs(lab, serve_keys("base.bmps"))]) == 5  # fmt: skip
    assert "destroyed" in capsys.readouterr().err


# -- the dispatching party --------------------------------------------------------------------------------


class _Fake:
    def __init__(self, name: str) -> None:
        self.name, self.got = name, b""

    role, done, failed, result, peer_authenticated, max_next_message = (
        "responder",
        False,
        False,
        None,
        True,
        7,
    )

    def start(self) -> bytes:
        raise LocalProtocolError("no")

    def receive(self, data: bytes) -> bytes | None:
        self.got = data
        return self.name.encode()

    def abort(self, reason: str) -> None: ...

    def record(self) -> dict:  # type: ignore[type-arg]
        return {"name": self.name}


@pytest.mark.parametrize(("first", "chosen"), [(1, "hello"), (5, "query"), (9, "default"), (None, "default")])
def test_dispatch_by_first_message_type(first: int | None, chosen: str) -> None:
    made: list[_Fake] = []

    def make(name: str) -> _Fake:
        made.append(_Fake(name))
        return made[-1]

    party = DispatchingParty({1: lambda: make("hello"), 5: lambda: make("query")}, lambda: make("default"),
                             first_message_limit=1000)  # fmt: skip
    assert party.max_next_message == 1000 and not party.done and not party.peer_authenticated
    with pytest.raises(LocalProtocolError):
        party.abort("x")
    with pytest.raises(LocalProtocolError):
        party.record()
    frame = MAGIC + b"\x01" + bytes([first]) + bytes(HEADER_BYTES) if first is not None else b"BMS"
    assert party.receive(frame) == chosen.encode()
    assert [m.name for m in made] == [chosen] and made[0].got == frame
    assert party.max_next_message == 7 and party.peer_authenticated and party.record() == {"name": chosen}
