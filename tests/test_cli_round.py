"""``blindmatch round`` end to end: real subprocesses on loopback, a lab that is not up, then a rerun that
resumes; refusals before anything is sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_support import cli, write_csv
from round_support import (
    FORUM,
    IDS,
    NAMES,
    expected,
    free_ports,
    lab_sets,
    make_group,
    make_policy,
    report_view,
)

from blindmatch.groups import sign_group
from blindmatch.groups.forum_policy import ForumPolicy, sign_policy


def _setup(tmp: Path, policy: ForumPolicy, **group_changes: object) -> dict[str, set[tuple[str, str]]]:
    group = make_group(policy, 3, free_ports(3), **group_changes)
    (tmp / "policy.json").write_bytes(sign_policy(FORUM, policy))
    (tmp / "group.json").write_bytes(sign_group(FORUM, group))
    (tmp / "forum.pub").write_text(FORUM.public.to_text() + "\n")
    sets = lab_sets(NAMES[:3], seed=21)
    for name in NAMES[:3]:
        IDS[name].save(tmp / f"{name}.pem")
        write_csv(tmp / f"{name}.csv", sorted(sets[name]))
    return sets


def _args(name: str, timeout: float) -> list[str]:
    return ["round", "--identity", f"{name}.pem", "-i", f"{name}.csv", "--group", "group.json",
            "--policy", "policy.json", "--forum-key", "forum.pub", "--state-dir", f"state-{name}",
            "--timeout", str(timeout)]  # fmt: skip


def _run_labs(tmp: Path, names: list[str], timeout: float) -> dict[str, subprocess.CompletedProcess[str]]:
    procs = {
        n: subprocess.Popen(
            [sys.executable, "-m", "blindmatch", *_args(n, timeout)],
            cwd=tmp,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in names
    }
    out = {}
    for n, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        assert "Traceback" not in stderr, stderr
        out[n] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def _check(tmp: Path, me: str, sets: dict[str, set[tuple[str, str]]], done: list[str]) -> dict[str, object]:
    doc = json.loads((tmp / f"state-{me}" / "round-report.json").read_bytes())
    want = expected(me, NAMES[:3], sets, done, 2)
    got = report_view(doc)
    assert (got.held_by, got.per_kind, got.over) == (want.held_by, want.per_kind, want.over)
    return doc  # type: ignore[no-any-return]


def test_round_cli_lab_down_then_rerun_resumes(tmp_path: Path) -> None:
    sets = _setup(tmp_path, make_policy())
    first = _run_labs(tmp_path, ["lab-a", "lab-c"], timeout=4)
    for me in ("lab-a", "lab-c"):
        assert first[me].returncode == 4, first[me].stderr
        assert "lab-b" in first[me].stderr and "failed" in first[me].stderr
        doc = _check(tmp_path, me, sets, [n for n in NAMES[:3] if n not in (me, "lab-b")])
        status = {lab["name"]: lab["status"] for lab in doc["labs"]}  # type: ignore[attr-defined]
        assert status["lab-b"] == "failed"
    record = tmp_path / "state-lab-a" / "pairs" / "lab-c" / "record.json"
    kept = (record.stat().st_mtime_ns, record.read_bytes())
    second = _run_labs(tmp_path, list(NAMES[:3]), timeout=60)
    for me in NAMES[:3]:
        assert second[me].returncode == 0, second[me].stderr
        assert "round round-1: 2 of 2 pairs done" in second[me].stdout
        _check(tmp_path, me, sets, [n for n in NAMES[:3] if n != me])
    assert "lab-c: done" in second["lab-a"].stdout and "earlier run" in second["lab-a"].stdout
    assert (record.stat().st_mtime_ns, record.read_bytes()) == kept


def test_round_cli_refuses_before_sending(tmp_path: Path) -> None:
    _setup(tmp_path, make_policy(min_threshold=3))
    proc = cli(*_args("lab-a", 2), cwd=tmp_path)
    assert proc.returncode == 4 and "refused before anything was sent" in proc.stderr
    assert "threshold" in proc.stderr and not (tmp_path / "state-lab-a" / "pairs").exists()
    (tmp_path / "forum.pub").write_text(IDS["lab-a"].public.to_text() + "\n")  # another forum's key
    proc = cli(*_args("lab-a", 2), cwd=tmp_path)
    assert proc.returncode == 3 and "signature" in proc.stderr
