"""The ``bloom`` verbs in subprocesses: DCSO vectors, keyed (consortium) filters, errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

VECTORS = Path(__file__).resolve().parent / "vectors" / "dcso"


def cli(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "blindmatch", "bloom", *args],
        cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def test_dcso_vectors_and_broken_file(tmp_path: Path) -> None:
    for name in ("test.bloom", "test.bloom.gz"):
        r = cli("check", str(VECTORS / name), cwd=tmp_path, stdin=b"foo\nbar\nbaz\nnope\nfoo2\n")
        assert r.returncode == 0 and r.stdout == b"foo\nbar\nbaz\n"
    r = cli("check", str(VECTORS / "test.bloom"), cwd=tmp_path, stdin=b"nothing\nhere\n")
    assert r.returncode == 1 and r.stdout == b""
    r = cli("check", str(VECTORS / "broken.bloom"), cwd=tmp_path, stdin=b"foo\n")
    assert r.returncode == 3 and b"broken.bloom" in r.stderr
    r = cli("show", str(VECTORS / "test.bloom"), cwd=tmp_path)
    assert r.returncode == 0 and b"values inserted      3" in r.stdout


def test_dcso_create_insert_join_round_trip(tmp_path: Path) -> None:
    assert cli("create", "a.bloom", "-n", "100", "--format", "dcso", "--gzip", cwd=tmp_path).returncode == 0
    assert (tmp_path / "a.bloom").read_bytes()[:2] == b"\x1f\x8b"
    assert cli("insert", "a.bloom", cwd=tmp_path, stdin=b"x\ny\n").returncode == 0
    assert (tmp_path / "a.bloom").read_bytes()[:2] == b"\x1f\x8b"  # stays gzip
    assert cli("create", "b.bloom", "-n", "100", "--format", "dcso", cwd=tmp_path).returncode == 0
    assert cli("insert", "b.bloom", cwd=tmp_path, stdin=b"z\n").returncode == 0
    assert cli("join", "j.bloom", "a.bloom", "b.bloom", cwd=tmp_path).returncode == 0
    r = cli("check", "j.bloom", cwd=tmp_path, stdin=b"x\nz\nw\n")
    assert r.stdout == b"x\nz\n"
    assert cli("create", "c.bloom", "-n", "50", "--format", "dcso", cwd=tmp_path).returncode == 0
    r = cli("join", "k.bloom", "a.bloom", "c.bloom", cwd=tmp_path)
    assert r.returncode == 3 and not (tmp_path / "k.bloom").exists()
    assert cli("create", "a.bloom", "-n", "10", cwd=tmp_path).returncode == 5  # exists


def test_keyed_filter_canonicalizes_and_checks_the_key(tmp_path: Path) -> None:
    run = subprocess.run
    for name in ("k1.hex", "k2.hex"):
        p = run([sys.executable, "-m", "blindmatch", "keygen", "--token", name], cwd=tmp_path, check=False)
        assert p.returncode == 0
    r = cli("create", "ex.bloom", "-n", "10", "--key-file", "k1.hex", "--kind", "email", cwd=tmp_path)
    assert r.returncode == 0
    r = cli("insert", "ex.bloom", "--key-file", "k1.hex", "--kind", "email", cwd=tmp_path,
            stdin=b"Alice.Smith+promo@GoogleMail.com\nbob@example.org\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = cli("check", "ex.bloom", "--key-file", "k1.hex", "--kind", "email", cwd=tmp_path,
            stdin=b"alicesmith@gmail.com\ncarol@example.org\n")  # fmt: skip
    assert r.returncode == 0 and r.stdout == b"alicesmith@gmail.com\n"
    r = cli("check", "ex.bloom", "--key-file", "k2.hex", "--kind", "email", cwd=tmp_path, stdin=b"x@y.org\n")
    assert r.returncode == 3 and b"key id mismatch" in r.stderr
    r = cli("check", "ex.bloom", "--key-file", "k1.hex", "--kind", "email", "--context", "other",
            cwd=tmp_path, stdin=b"x@y.org\n")  # fmt: skip
    assert r.returncode == 3 and b"context" in r.stderr
    assert cli("check", "ex.bloom", cwd=tmp_path, stdin=b"x\n").returncode == 2
    r = cli("check", "ex.bloom", "--key-file", "k1.hex", "--kind", "email", cwd=tmp_path, stdin=b"bad\n")
    assert r.returncode == 3 and b"line 1" in r.stderr and b"bad" not in r.stderr.split(b":")[-1]
    # Past capacity: refused, and the file is unchanged.
    before = (tmp_path / "ex.bloom").read_bytes()
    many = b"".join(b"u%d@example.org\n" % i for i in range(20))
    r = cli("insert", "ex.bloom", "--key-file", "k1.hex", "--kind", "email", cwd=tmp_path, stdin=many)
    assert r.returncode == 5 and b"capacity" in r.stderr
    assert (tmp_path / "ex.bloom").read_bytes() == before
    show = cli("show", "ex.bloom", cwd=tmp_path).stdout
    assert b"keyed                yes" in show and b"kinds                email" in show


def test_a_gzip_bomb_is_refused_from_its_header_without_decompressing_it(tmp_path: Path) -> None:
    # 256 MiB of zeros in ~256 KB: the header (zeros) is refused before the rest is decompressed
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    with (tmp_path / "bomb.bloom").open("wb") as fh:
        for _ in range(256):
            fh.write(z.compress(chunk))
        fh.write(z.flush())
    probe = (
        "import resource, sys\n"
        "from blindmatch.cli import main\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rc = main(sys.argv[1:])\n"
        "grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(f'rc={rc} grew_kb={grew}')\n"
    )
    for verb in ("show", "check"):
        r = subprocess.run(
            [sys.executable, "-c", probe, "bloom", verb, str(tmp_path / "bomb.bloom")],
            capture_output=True, text=True, timeout=120, input="x\n", check=False,
        )  # fmt: skip
        rc, grew = (int(f.split("=")[1]) for f in r.stdout.split())
        assert rc == 3, r.stderr
        assert grew < 64 * 1024, f"{verb}: peak memory grew by {grew} KB"
