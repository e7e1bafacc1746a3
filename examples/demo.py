"""`make demo`: a real authenticated mutual exchange between the two example labs.

Lab B runs ``blindmatch serve`` and lab A runs ``blindmatch connect``: two separate processes talking over
loopback TCP, each knowing only its own indicator file (``examples/data/lab_a.csv`` / ``lab_b.csv``) and
the other's public identity key. Both learn which of their own indicators the other also holds (mode
``mutual``), and nothing else beyond the padded set sizes. Everything lands in ``demo-output/``:

    demo-output/lab_a/   identity key, peers file, report, matches.csv, counts.csv, record (each named
                         <peer>-<session id>-...)
    demo-output/lab_b/   the same for lab B (report and record named after the session)

The reports hold indicators and stay local; the records are signed and shareable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from blindmatch.session import verify_record

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "demo-output"
DATA = HERE / "data"
PURPOSE = "demo: shared abuse indicators between lab A and lab B (synthetic data)"


def blindmatch(*args: str, cwd: Path, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blindmatch", *args],
        cwd=cwd,
        capture_output=capture,
        text=True,
        check=False,
        timeout=600,
    )


def must(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"demo: {what} failed (exit code {proc.returncode})")
    return proc.stdout


def setup_lab(name: str) -> Path:
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    must(blindmatch("keygen", "identity.pem", cwd=d), f"{name} keygen")
    return d


def trust(d: Path, peer_name: str, peer_dir: Path) -> None:
    pub = peer_dir / "identity.pem.pub"
    # In real life the fingerprint is read aloud over a channel both labs already trust.
    fp = must(blindmatch("fingerprint", "--public-file", str(pub), cwd=d), "fingerprint").strip()
    must(
        blindmatch("peers", "add", peer_name, "--public-file", str(pub), "--fingerprint", fp,
                   "--note", "demo: fingerprint compared locally", cwd=d),
        "peers add",
    )  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            _, err = proc.communicate()
            sys.stderr.write(err)
            raise SystemExit("demo: lab B's server stopped before listening")
        time.sleep(0.05)
    raise SystemExit("demo: lab B's server did not start")


def load(p: Path) -> Any:
    return json.loads(p.read_text(encoding="utf-8"))


def main() -> int:
    t0 = time.monotonic()
    a, b = setup_lab("lab_a"), setup_lab("lab_b")
    trust(a, "lab-b", b)
    trust(b, "lab-a", a)
    print("blindmatch demo: two labs, two processes, one authenticated mutual exchange over loopback TCP\n")
    for name, d in (("lab A", a), ("lab B", b)):
        fp = must(blindmatch("fingerprint", "--identity", "identity.pem", cwd=d), "fingerprint").split()[-1]
        print(f"  {name} identity fingerprint: {fp}")

    port_file = b / "port"
    server = subprocess.Popen(
        [sys.executable, "-m", "blindmatch", "serve", "--identity", "identity.pem", "--peers", "peers.json",
         "--input", str(DATA / "lab_b.csv"), "--skip-invalid", "--allow-peer", "lab-a",
         "--allow-mode", "mutual", "--max-sessions", "1", "--port-file", str(port_file), "--out-dir", ".",
         "--timeout", "60", "--quiet"],
        cwd=b, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = wait_for(port_file, server)
        t_exchange = time.monotonic()
        client = blindmatch(
            "connect", "--identity", "identity.pem", "--peers", "peers.json", "--peer", "lab-b",
            "--port", port, "--input", str(DATA / "lab_a.csv"), "--skip-invalid", "--mode", "mutual",
            "--purpose", PURPOSE, "--out-dir", ".", "--timeout", "60", "--quiet", cwd=a,
        )  # fmt: skip
        must(client, "lab A's connect")
        _, server_err = server.communicate(timeout=120)
        exchange_s = time.monotonic() - t_exchange
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    if server.returncode != 0:
        sys.stderr.write(server_err)
        raise SystemExit(f"demo: lab B's server failed (exit code {server.returncode})")

    rep_a = load(next(a.glob("*-report.json")))
    rec_a = load(next(a.glob("*-record.json")))
    rep_b = load(next(b.glob("*-report.json")))
    rec_b = load(next(b.glob("*-record.json")))
    # Each record is signed by its lab; check both with the keys each lab holds of the other.
    verify_record(rec_a, (a / "identity.pem.pub").read_text().strip())
    verify_record(rec_b, (b / "identity.pem.pub").read_text().strip())
    expected = load(DATA / "expected.json")

    print(f"\nexchange finished in {exchange_s:.1f} s (whole demo {time.monotonic() - t0:.1f} s); "
          f"session {rec_a['session_id'][:16]}..., mode {rec_a['mode']}")  # fmt: skip
    print(f"  sizes disclosed: lab A showed {rec_a['padded_sizes']['initiator']} items (padded from "
          f"{rep_a['own_size']}), lab B showed {rec_a['padded_sizes']['responder']} (padded from "
          f"{rep_b['own_size']})")  # fmt: skip
    same = rec_a["transcript_hash"] == rec_b["transcript_hash"]
    print(f"  both signed records verify; transcript hashes {'agree' if same else 'DIFFER'}: "
          f"{rec_a['transcript_hash'][:16]}...")  # fmt: skip

    print("\n  shared indicators per kind        found   expected")
    want = expected["overlap_per_kind"]
    got = {k: v["distinct"] for k, v in rep_a["counts_per_kind"].items()}
    ok = got == want and rep_b["count"] == rep_a["count"]
    for kind in sorted(set(want) | set(got)):
        print(f"    {kind:30s} {got.get(kind, 0):6d}   {want.get(kind, 0):6d}")
    print(f"    {'total':30s} {rep_a['count']:6d}   {expected['overlap_total']:6d}")

    by_canon_b = {(m["kind"], m["canonical"]): m["value"] for m in rep_b["matches"]}
    print("\n  a few matches, as each lab wrote them (canonicalization reconciles them):")
    shown: set[str] = set()
    for kind in ("email", "url", "ip", "domain", "phone", "prompt", "asn", "account"):
        for m in rep_a["matches"]:
            vb = by_canon_b.get((m["kind"], m["canonical"]))
            differs = vb is not None and vb.strip() != m["value"].strip()
            if m["kind"] == kind and kind not in shown and differs and vb is not None:
                print(f"    {kind:8s} A: {m['value'].strip()!r}\n{'':13s}B: {vb.strip()!r}")
                shown.add(kind)
    print(f"\n  outputs: {a.relative_to(ROOT)}/ and {b.relative_to(ROOT)}/ "
          "(reports and matches.csv: local only; record.json: signed, shareable)")  # fmt: skip
    if not ok:
        print("\ndemo: the overlap found differs from examples/data/expected.json", file=sys.stderr)
        return 1
    print("\nOK: both labs found exactly the known overlap; beyond it, each saw only the padded sizes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
