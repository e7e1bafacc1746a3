"""Audited exchanges with the ``blindmatch`` command (docs/audit.md, docs/cli.md): ``--audit-to`` on
``connect``/``serve`` and the ``psi`` steps writes each side's sealed package (mode 0600) beside the record
that names its SHA-256; the policy refuses audited proposals without ``--audit-to``, non-audited ones with
it, and another auditor; commands without an audit refuse the option."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv

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
    r = cli(*_psi_a(lab, *audit, "--audit-rate", "0"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli(*_psi_b(lab, *audit), cwd=tmp_path)
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


def test_server_without_audit_to_refuses_an_audited_proposal(lab: Path, tmp_path: Path) -> None:
    server, port = serve(lab, tmp_path, "lab_b.csv", 64)
    try:
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"),
                "--peer", "lab-b", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose", "audit test",
                "--max-items", "64", "--out-dir", str(tmp_path / "a-out"), "--audit-to",
                str(lab / "auditor.pub"), cwd=tmp_path)  # fmt: skip
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert r.returncode == 4
    assert "audited sessions are not offered by this responder" in r.stderr
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
