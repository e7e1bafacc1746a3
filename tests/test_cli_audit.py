"""Audited exchanges with the ``blindmatch`` command (docs/audit.md, docs/cli.md): ``--audit-to`` on
``connect``/``serve`` and the ``psi`` steps writes each side's sealed package (mode 0600) beside the record
that names its SHA-256; the policy refuses audited proposals without ``--audit-to``, non-audited ones with
it, and another auditor; commands without an audit refuse the option."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from pathlib import Path

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv

from blindmatch import verify_audit_report
from blindmatch.session import Identity, verify_record
from blindmatch.session.audit_package import open_package

SHARED = [("email", f"shared{i}@example.org") for i in range(5)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("audit-labs")
    make_lab_keys(d)
    for name in ("auditor", "other-auditor"):
        ident = Identity.generate()
        ident.save(d / f"{name}.pem")
        (d / f"{name}.pub").write_text(ident.public.to_text() + "\n", encoding="utf-8")
    write_csv(d / "lab_a.csv", SHARED + [("email", f"a{i}@example.net") for i in range(9)])
    write_csv(d / "lab_b.csv", SHARED + [("ip", f"198.51.100.{i}") for i in range(1, 12)])
    return d


def _psi_a(lab: Path, *extra: str) -> tuple[str, ...]:
    return ("psi", "initiate", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
            "--peer", "lab-b", "-i", str(lab / "lab_a.csv"), "--purpose", "audit test", "--max-items", "64",
            "--state", "a.state", *extra)  # fmt: skip


def _psi_b(lab: Path, *extra: str) -> tuple[str, ...]:
    return ("psi", "respond", "--identity", str(lab / "b.pem"), "--peers", str(lab / "b-peers.json"),
            "-i", str(lab / "lab_b.csv"), "--max-own-items", "64", "--message", "a-msg0.bin",
            "--state", "b.state", *extra)  # fmt: skip


def check_package(package: Path, record: Path, author: Path, auditor: Path) -> dict:  # type: ignore[type-arg]
    """The package is private (0600), its SHA-256 is in the author's signed record, and it opens for the
    auditor; returns the record."""
    assert stat.S_IMODE(package.stat().st_mode) == 0o600
    rec = verify_record(record.read_text(), Identity.load(author).public)
    auditor_id = Identity.load(auditor)
    assert rec["audit"]["auditor"] == auditor_id.public.to_text()
    data = package.read_bytes()
    assert rec["audit"]["package_sha256"] == hashlib.sha256(data).hexdigest()
    open_package(data, auditor_id)  # raises InvalidAuditPackage otherwise
    return rec


def run_audited_file_flow(lab: Path, w: Path, mode: str = "mutual", rate: str = "10000") -> None:
    """An audited exchange over message files, one process per step (the audit terms cross processes in
    the state files)."""
    audit = ("--audit-to", str(lab / "auditor.pub"))
    r = cli(*_psi_a(lab, "--mode", mode, *audit, "--audit-rate", rate), cwd=w)
    assert r.returncode == 0, r.stderr
    assert "proposing an audited session" in r.stderr
    r = cli(*_psi_b(lab, *audit), cwd=w)
    assert r.returncode == 0, r.stderr
    for state, msg in (("a", "b-msg1.bin"), ("b", "a-msg2.bin"), ("a", "b-msg3.bin")):
        r = cli("psi", "continue", "--state", f"{state}.state", "--message", msg, cwd=w)
        assert r.returncode == 0, r.stderr
    if mode.startswith("mutual"):
        r = cli("psi", "finish", "--state", "b.state", "--message", "a-msg4.bin", cwd=w)
        assert r.returncode == 0, r.stderr
    assert not (w / "a.state").exists() and not (w / "b.state").exists()


@pytest.mark.parametrize("mode", ["mutual", "intersection"])
def test_file_flow_writes_both_packages(lab: Path, tmp_path: Path, mode: str) -> None:
    run_audited_file_flow(lab, tmp_path, mode)
    ra = check_package(tmp_path / "a-audit.bmaudit", tmp_path / "a-record.json", lab / "a.pem",
                       lab / "auditor.pem")  # fmt: skip
    rb = check_package(tmp_path / "b-audit.bmaudit", tmp_path / "b-record.json", lab / "b.pem",
                       lab / "auditor.pem")  # fmt: skip
    assert ra["outcome"]["status"] == rb["outcome"]["status"] == "completed"
    assert ra["transcript_hash"] == rb["transcript_hash"]


def test_tcp_flow_writes_both_packages_and_the_coin(lab: Path, tmp_path: Path) -> None:
    audit = ("--audit-to", str(lab / "auditor.pub"))
    server, port = serve(lab, tmp_path, "lab_b.csv", 64, *audit)
    try:
        # rate 1000000: every side's coin selects the session
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
                "--peer", "lab-b", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose", "audit test",
                "--max-items", "64", "--out-dir", str(tmp_path / "a-out"), *audit, "--audit-rate", "1000000",
                "--audit-deadline", "3", cwd=tmp_path)  # fmt: skip
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 0, r.stderr
    assert server.returncode == 0, err
    assert "audited sessions only" in err
    for side, ident, text in (("a", "a.pem", r.stdout), ("b", "b.pem", out + err)):
        package = next((tmp_path / f"{side}-out").glob("*-audit.bmaudit"))
        record = package.with_name(package.name.replace("audit.bmaudit", "record.json"))
        check_package(package, record, lab / ident, lab / "auditor.pem")
        assert f"wrote the audit package {package}" in text
        assert "selected for a routine audit: hand both packages to the auditor within 3 days" in text


def test_quiet_prints_nothing_and_unselected_coin(lab: Path, tmp_path: Path) -> None:
    audit = ("--audit-to", str(lab / "auditor.pub"))
    first = tmp_path / "first"
    first.mkdir()
    assert cli(*_psi_a(lab, *audit, "--audit-rate", "0"), cwd=first).returncode == 0
    r = cli(*_psi_b(lab, *audit), cwd=first)  # by default a rate of 0 is refused ...
    assert r.returncode == 0, r.stderr
    assert "below our minimum of 10000" in (first / "b-record.json").read_text()
    r = cli(*_psi_a(lab, *audit, "--audit-rate", "0"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli(*_psi_b(lab, *audit, "--min-audit-rate", "0"), cwd=tmp_path)  # ... unless the responder allows it
    assert r.returncode == 0, r.stderr
    r = cli("psi", "continue", "--state", "a.state", "--message", "b-msg1.bin", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("psi", "continue", "-q", "--state", "b.state", "--message", "a-msg2.bin", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert (tmp_path / "b-audit.bmaudit").exists()
    r = cli("psi", "finish", "--state", "a.state", "--message", "b-msg3.bin", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "not selected by our routine-audit coin: keep it for 14 days" in r.stdout


def _refused(lab: Path, w: Path, a_extra: tuple[str, ...], b_extra: tuple[str, ...]) -> str:
    """Run a proposal into a refusal over files; returns the refusal the responder printed."""
    r = cli(*_psi_a(lab, *a_extra), cwd=w)
    assert r.returncode == 0, r.stderr
    r = cli(*_psi_b(lab, *b_extra), cwd=w)
    assert r.returncode == 0, r.stderr
    assert "refused the proposal" in r.stdout
    assert not (w / "b-audit.bmaudit").exists()  # a refusing side agreed to no auditor: no package
    a = cli("psi", "continue", "--state", "a.state", "--message", "b-msg1.bin", cwd=w)
    assert a.returncode == 4
    assert not (w / "a.state").exists()
    return r.stdout


def test_policy_refusals(lab: Path, tmp_path: Path) -> None:
    to = ("--audit-to", str(lab / "auditor.pub"))
    other = ("--audit-to", str(lab / "other-auditor.pub"))
    for n, (a_extra, b_extra, reason) in enumerate([
        ((), to, "takes only audited sessions"),
        (to, other, "is not ours"),
    ]):  # fmt: skip
        w = tmp_path / str(n)
        w.mkdir()
        assert reason in _refused(lab, w, a_extra, b_extra)
    # the proposer of an audited session that was refused still escrows its side (its hello was sent)
    check_package(tmp_path / "1" / "a-audit.bmaudit", tmp_path / "1" / "a-record.json", lab / "a.pem",
                  lab / "auditor.pem")  # fmt: skip


@pytest.mark.parametrize(
    ("server_audit", "client_audit", "reason"),
    [
        (False, True, "audited sessions are not offered by this responder"),
        (True, False, "this responder takes only audited sessions"),
    ],
)
def test_server_refuses_over_tcp(
    lab: Path, tmp_path: Path, server_audit: bool, client_audit: bool, reason: str
) -> None:
    to = ("--audit-to", str(lab / "auditor.pub"))
    server, port = serve(lab, tmp_path, "lab_b.csv", 64, *(to if server_audit else ()))
    try:
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
                "--peer", "lab-b", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose", "audit test",
                "--max-items", "64", "--out-dir", str(tmp_path / "a-out"), *(to if client_audit else ()),
                cwd=tmp_path)  # fmt: skip
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 4
    assert reason in r.stderr
    assert server.returncode == 0 and "refused" in err
    assert not list((tmp_path / "b-out").glob("*.bmaudit"))


def test_bad_audit_options(lab: Path, tmp_path: Path) -> None:
    r = cli(*_psi_a(lab, "--audit-rate", "5"), cwd=tmp_path)
    assert r.returncode == 2 and "need --audit-to" in r.stderr
    r = cli(*_psi_a(lab, "--audit-to", str(lab / "auditor.pub"), "--audit-rate", "1000001"), cwd=tmp_path)
    assert r.returncode == 2
    r = cli(*_psi_a(lab, "--audit-to", str(lab / "auditor.pub"), "--audit-deadline", "0"), cwd=tmp_path)
    assert r.returncode == 2
    r = cli(*_psi_a(lab, "--audit-to", str(lab / "auditor.pem")), cwd=tmp_path)
    assert r.returncode == 3 and "is a private key" in r.stderr
    r = cli(*_psi_a(lab, "--audit-to", str(lab / "lab_a.csv")), cwd=tmp_path)
    assert r.returncode == 3 and "does not hold a public key" in r.stderr
    r = cli(*_psi_b(lab, "--audit-to", str(tmp_path / "missing.pub")), cwd=tmp_path)
    assert r.returncode == 5 and "cannot read" in r.stderr
    assert not (tmp_path / "a.state").exists() and not (tmp_path / "b.state").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ("bloom", "create", "f.bloom", "-n", "10"),
        ("bloom", "insert", "f.bloom"),
        ("bloom", "check", "f.bloom"),
        ("bloom", "join", "out.bloom", "a.bloom", "b.bloom"),
        ("bloom", "show", "f.bloom"),
        ("psi", "continue", "--state", "a.state", "--message", "m.bin"),
        ("psi", "finish", "--state", "a.state", "--message", "m.bin"),
        ("psi", "abort", "--state", "a.state"),
    ],
)
def test_commands_without_an_audit_refuse_audit_to(tmp_path: Path, argv: tuple[str, ...]) -> None:
    r = cli(*argv, "--audit-to", "AUDITOR.pub", cwd=tmp_path)
    assert r.returncode == 2
    assert "unrecognized arguments: --audit-to" in r.stderr


def test_help_lists_the_audit_options(tmp_path: Path) -> None:
    for argv in (("connect",), ("serve",), ("psi", "initiate"), ("psi", "respond")):
        r = cli(*argv, "--help", cwd=tmp_path)
        assert r.returncode == 0 and "--audit-to" in r.stdout
    r = cli("psi", "respond", "--help", cwd=tmp_path)
    assert "--audit-rate" not in r.stdout  # the rate and deadline are the proposer's terms


# ---- blindmatch audit ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One honest audited exchange (mutual, over files): a-/b-audit.bmaudit and a-/b-record.json."""
    w = tmp_path_factory.mktemp("audited-session")
    run_audited_file_flow(lab, w)
    return w


def _audit(
    lab: Path, s: Path, w: Path, *extra: str, packages: tuple[str, ...] = ("a", "b")
) -> subprocess.CompletedProcess[str]:
    """``blindmatch audit`` as the auditor, on the session in ``s`` (its packages and both records)."""
    files = [str(s / f"{p}-audit.bmaudit") for p in packages]
    return cli("audit", "--identity", str(lab / "auditor.pem"), *files, "--record", str(s / "a-record.json"),
               "--record", str(s / "b-record.json"), *extra, cwd=w)  # fmt: skip


def test_audit_of_honest_packages_is_clean_and_the_report_verifies(
    lab: Path, session: Path, tmp_path: Path
) -> None:
    r = _audit(lab, session, tmp_path, "--out", "report.json")
    assert r.returncode == 0, r.stderr
    assert ": clean (both sides re-executed" in r.stdout
    report = tmp_path / "report.json"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    doc = verify_audit_report(report.read_text(), Identity.load(lab / "auditor.pem").public)
    assert doc["verdict"] == "clean" and set(doc["sides"]) == {"initiator", "responder"}
    r = cli("audit", "--verify", "report.json", "--auditor", str(lab / "auditor.pub"), cwd=tmp_path)
    assert r.returncode == 0 and "a valid audit report" in r.stdout and "verdict clean" in r.stdout
    r = cli("audit", "--verify", "report.json", "--auditor", str(lab / "other-auditor.pub"), cwd=tmp_path)
    assert r.returncode == 4 and "another auditor" in r.stderr
    altered = json.loads(report.read_text())
    altered["verdict"] = "findings"
    (tmp_path / "altered.json").write_text(json.dumps(altered))
    r = cli("audit", "--verify", "altered.json", "--auditor", str(lab / "auditor.pub"), cwd=tmp_path)
    assert r.returncode == 4 and "does not verify" in r.stderr
    r = _audit(lab, session, tmp_path, "--out", "again.json", "--json", "-q")
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"] == "clean"


def test_audit_history_finds_a_reused_seed(lab: Path, session: Path, tmp_path: Path) -> None:
    for _ in range(2):  # auditing the same packages again is no reuse, and adds no line
        r = _audit(lab, session, tmp_path, "--out", "report.json", "--history", "history.jsonl")
        assert r.returncode == 0, r.stdout + r.stderr
    history = tmp_path / "history.jsonl"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    entries = [json.loads(line) for line in history.read_text().splitlines()]
    assert sorted(e["role"] for e in entries) == ["initiator", "responder"]
    # the same seeds seen in another session's packages: both sides reused their seeds
    for e in entries:
        e["package_sha256"], e["session_id"] = "00" * 32, "11" * 16
    (tmp_path / "other.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    r = _audit(lab, session, tmp_path, "--out", "report2.json", "--history", "other.jsonl")
    assert r.returncode == 6, r.stderr
    assert "initiator: seed-reused" in r.stdout and "responder: seed-reused" in r.stdout
    doc = json.loads((tmp_path / "report2.json").read_text())
    assert doc["verdict"] == "findings"
    (tmp_path / "junk.jsonl").write_text("not json\n")
    r = _audit(lab, session, tmp_path, "--out", "report3.json", "--history", "junk.jsonl")
    assert r.returncode == 3 and "line 1" in r.stderr


def test_audit_with_one_package_is_pending(lab: Path, session: Path, tmp_path: Path) -> None:
    r = _audit(lab, session, tmp_path, "--out", "report.json", packages=("a",))
    assert r.returncode == 7, r.stderr
    assert "responder: pending" in r.stdout
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "pending"


def test_tampered_package_is_a_clean_error(lab: Path, session: Path, tmp_path: Path) -> None:
    data = bytearray((session / "a-audit.bmaudit").read_bytes())
    at = data.index(b'"sealed":"') + 20
    data[at] = ord("A") if data[at] != ord("A") else ord("B")  # still base64: only the signature breaks
    (tmp_path / "a-audit.bmaudit").write_bytes(bytes(data))
    (tmp_path / "b-audit.bmaudit").write_bytes((session / "b-audit.bmaudit").read_bytes())
    for name in ("a-record.json", "b-record.json"):
        (tmp_path / name).write_bytes((session / name).read_bytes())
    r = _audit(lab, tmp_path, tmp_path, "--out", "report.json")
    assert r.returncode == 4
    assert "a-audit.bmaudit: the audit package's signature does not verify" in r.stderr
    assert "nothing audited" in r.stderr
    assert not (tmp_path / "report.json").exists()
    (tmp_path / "a-audit.bmaudit").write_text("{}")
    r = _audit(lab, tmp_path, tmp_path, "--out", "report.json")
    assert r.returncode == 4 and "not a version 1 blindmatch audit package" in r.stderr


def test_audit_with_another_auditors_key(lab: Path, session: Path, tmp_path: Path) -> None:
    r = cli("audit", "--identity", str(lab / "other-auditor.pem"), str(session / "a-audit.bmaudit"),
            str(session / "b-audit.bmaudit"), "--out", "report.json", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4 and "no package opens with this auditor's key" in r.stderr


def test_audit_usage_errors(lab: Path, session: Path, tmp_path: Path) -> None:
    pkg = str(session / "a-audit.bmaudit")
    ident = ("--identity", str(lab / "auditor.pem"))
    for argv, text in [
        ((*ident, "--out", "r.json"), "one or two PACKAGE"),
        ((*ident, pkg, pkg, pkg, "--out", "r.json"), "one or two PACKAGE"),
        ((*ident, pkg), "--out REPORT.json"),
        ((pkg, "--out", "r.json"), "--identity AUDITOR.pem"),
        (("--verify", "r.json"), "--auditor AUDITOR.pub"),
        (("--verify", "r.json", "--auditor", str(lab / "auditor.pub"), pkg), "takes only --auditor"),
    ]:
        r = cli("audit", *argv, cwd=tmp_path)
        assert r.returncode == 2 and text in r.stderr, (argv, r.stderr)
