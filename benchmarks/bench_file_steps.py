"""CPU time of each ``blindmatch psi`` step of a file exchange (two labs, mode mutual).

Each step is one ``python -m blindmatch psi ...`` process, as two labs run it; the CPU time (user + system)
of each child comes from ``resource.getrusage(RUSAGE_CHILDREN)`` around it. A step that rebuilds its party
by replaying earlier messages redoes their crypto; one that restores a saved party state does only its
own. ``BLINDMATCH_BENCH_SRC=/path/to/other/src`` runs the same steps against another checkout's library
(e.g. the commit before a change), for a before/after table made with the same data. The first row is the
interpreter and import cost alone (``blindmatch --version``), which every step pays.

Sizes: 2^14 e-mail indicators per side with 2^11 shared (quick: 2^10 with 2^7 shared).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import Table


def _cpu_of(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _write_inputs(d: Path, n: int, shared: int) -> tuple[Path, Path]:
    a, b = d / "a.txt", d / "b.txt"
    a.write_text("".join(f"user{i}@lab-a.example\n" for i in range(n - shared))
                 + "".join(f"shared{i}@both.example\n" for i in range(shared)))  # fmt: skip
    b.write_text("".join(f"user{i}@lab-b.example\n" for i in range(n - shared))
                 + "".join(f"shared{i}@both.example\n" for i in range(shared)))  # fmt: skip
    return a, b


def _step(cmd: str, lab: str, message: str) -> list[str]:
    return ["psi", cmd, "--state", f"{lab}.state", "--in", message, "-q"]


def _steps(n: int, shared: int) -> list[tuple[str, float]]:
    env = dict(os.environ)
    other = os.environ.get("BLINDMATCH_BENCH_SRC")
    if other:
        env["PYTHONPATH"] = other + os.pathsep + env.get("PYTHONPATH", "")
    bm = [sys.executable, "-m", "blindmatch"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        in_a, in_b = _write_inputs(d, n, shared)
        for lab in ("a", "b"):
            (d / lab).mkdir()
            _cpu_of([*bm, "keygen", "identity.pem"], d / lab, env)
        for lab, other_lab in (("a", "b"), ("b", "a")):
            pub = f"../{other_lab}/identity.pem.pub"
            fp = subprocess.run([*bm, "fingerprint", "--public-file", pub], cwd=d / lab, env=env,
                                capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
            _cpu_of([*bm, "peers", "add", f"lab-{other_lab}", "--public-file", pub, "--fingerprint", fp],
                    d / lab, env)  # fmt: skip
        cap = str(2 * n)
        plan = [
            ("a", "psi initiate", ["psi", "initiate", "--identity", "identity.pem", "--peer", "lab-b",
                                    "--input", str(in_a), "--kind", "email", "--mode", "mutual",
                                    "--purpose", "bench", "--max-items", cap, "--state", "a.state", "-q"]),
            ("b", "psi respond", ["psi", "respond", "--identity", "identity.pem", "--max-own-items", cap,
                                   "--input", str(in_b), "--kind", "email", "--allow-peer", "lab-a",
                                   "--in", "a-msg0.bin", "--state", "b.state", "-q"]),
            ("a", "psi continue (A: request)", _step("continue", "a", "b-msg1.bin")),
            ("b", "psi continue (B: response)", _step("continue", "b", "a-msg2.bin")),
            ("a", "psi finish (A: confirm)", _step("finish", "a", "b-msg3.bin")),
            ("b", "psi finish (B)", _step("finish", "b", "a-msg4.bin")),
        ]  # fmt: skip
        out = [("interpreter + import (blindmatch --version)", _cpu_of([*bm, "--version"], d, env))]
        for i, (lab, label, args) in enumerate(plan):
            out.append((label, _cpu_of([*bm, *args], d / lab, env)))
            produced = f"{lab}-msg{i}.bin"
            peer = "b" if lab == "a" else "a"
            if (d / lab / produced).exists():
                (d / peer / produced).write_bytes((d / lab / produced).read_bytes())
        return out


def run(quick: bool) -> list[Table]:
    n, shared = (1 << 10, 1 << 7) if quick else (1 << 14, 1 << 11)
    rows = _steps(n, shared)
    src = os.environ.get("BLINDMATCH_BENCH_SRC") or "this checkout"
    t = Table(
        f"CPU per `psi` file step, mode mutual, {n:,} e-mails per side ({shared:,} shared); library: {src}",
        ["step", "CPU s (user + system)"],
    )
    for label, cpu in rows:
        t.add(label, cpu)
    t.add("all steps", sum(c for _, c in rows[1:]))
    t.notes.append("one process per step (as two labs run them); each pays the interpreter + import row")
    return [t]
