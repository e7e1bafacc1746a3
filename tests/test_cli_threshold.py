"""``blindmatch threshold lab`` / ``coordinate`` end to end: real subprocesses through a shared folder;
each lab's report equals plain counting; a lab that never comes is named and nobody gets a result, then a
rerun with the same state folders completes; a run outside the forum policy writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_support import write_csv
from round_support import FORUM, IDS, NAMES, free_ports, lab_sets, make_group, make_policy

from blindmatch.groups import sign_group
from blindmatch.groups.forum_policy import ForumPolicy, sign_policy

LABS = NAMES[:3]


def _setup(tmp: Path, policy: ForumPolicy) -> dict[str, set[tuple[str, str]]]:
    group = make_group(policy, 3, free_ports(3), max_items=64)
    (tmp / "policy.json").write_bytes(sign_policy(FORUM, policy))
    (tmp / "group.json").write_bytes(sign_group(FORUM, group))
    (tmp / "forum.pub").write_text(FORUM.public.to_text() + "\n")
    FORUM.save(tmp / "forum.pem")
    sets = lab_sets(LABS, seed=5)
    for name in LABS:
        IDS[name].save(tmp / f"{name}.pem")
        write_csv(tmp / f"{name}.csv", sorted(sets[name]))
    return sets


def _common(timeout: float) -> list[str]:
    return ["--group", "group.json", "--policy", "policy.json", "--forum-key", "forum.pub",
            "--dropbox", "box", "--timeout", str(timeout), "--poll", "0.05"]  # fmt: skip


def _start(tmp: Path, who: list[str], timeout: float) -> dict[str, subprocess.CompletedProcess[str]]:
    cmds = {
        n: ["threshold", "lab", "--identity", f"{n}.pem", "-i", f"{n}.csv", "--state-dir", f"state-{n}",
            "--report", f"{n}-report.json", *_common(timeout)]
        for n in who if n != "forum"
    }  # fmt: skip
    if "forum" in who:
        cmds["forum"] = ["threshold", "coordinate", "--identity", "forum.pem", *_common(timeout)]
    procs = {
        n: subprocess.Popen([sys.executable, "-m", "blindmatch", *c], cwd=tmp, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for n, c in cmds.items()
    }  # fmt: skip
    out = {}
    for n, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        assert "Traceback" not in stderr, stderr
        out[n] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def _over(sets: dict[str, set[tuple[str, str]]], me: str, t: int = 2) -> set[tuple[str, str]]:
    return {ind for ind in sets[me] if sum(ind in sets[n] for n in LABS) >= t}


def test_threshold_cli_dropout_then_rerun(tmp_path: Path) -> None:
    sets = _setup(tmp_path, make_policy())
    first = _start(tmp_path, ["lab-a", "lab-b", "forum"], timeout=3)
    for who in ("lab-a", "lab-b", "forum"):
        assert first[who].returncode == 4, first[who].stderr
        assert "lab-c" in first[who].stderr
    assert not (tmp_path / "lab-a-report.json").exists()
    assert list((tmp_path / "state-lab-a").glob("threshold-*.seed"))  # kept for the rerun
    second = _start(tmp_path, [*LABS, "forum"], timeout=60)
    for who, proc in second.items():
        assert proc.returncode == 0, (who, proc.stderr)
    for me in LABS:
        doc = json.loads((tmp_path / f"{me}-report.json").read_bytes())
        assert doc["format"] == "blindmatch-threshold-report/1" and doc["threshold"] == 2
        assert doc["delete_after"] > doc["generated"]  # the forum's retention rule, 30 days here
        assert {(r["kind"], r["canonical"]) for r in doc["over_threshold"]} == _over(sets, me)
        assert (tmp_path / f"{me}-report.json").stat().st_mode & 0o777 == 0o600
        assert not list((tmp_path / f"state-{me}").glob("threshold-*.seed"))  # the run seed is gone
    assert "every lab has its result" in second["forum"].stdout


def test_a_run_outside_the_policy_writes_nothing(tmp_path: Path) -> None:
    _setup(tmp_path, make_policy(paddings=("pow2",)))  # over-threshold pads to the cap: not allowed here
    out = _start(tmp_path, ["lab-a"], timeout=2)
    assert out["lab-a"].returncode == 4
    assert "refused before anything was sent" in out["lab-a"].stderr and "padding" in out["lab-a"].stderr
    assert not (tmp_path / "box").exists()


def test_an_older_policy_than_one_already_accepted_is_refused(tmp_path: Path) -> None:
    """Rollback protection across runs: the state folder keeps the newest policy version it accepted."""
    newer = make_policy(version=2, paddings=("pow2",))
    _setup(tmp_path, newer)
    assert _start(tmp_path, ["lab-a"], timeout=2)["lab-a"].returncode == 4  # outside the policy: no run
    seen = json.loads((tmp_path / "state-lab-a" / "forum-policy-seen.json").read_bytes())
    assert (seen["version"], seen["digest"]) == (2, newer.digest.hex())
    (tmp_path / "policy.json").write_bytes(sign_policy(FORUM, make_policy(version=1)))
    out = _start(tmp_path, ["lab-a"], timeout=2)["lab-a"]
    assert out.returncode == 3 and "rollback" in out.stderr, out.stderr
