"""Two indicator files larger than memory, compared by streaming (docs/streaming.md).

    .venv/bin/python examples/stream_files.py LAB_A.txt LAB_B.txt KIND [--engine dh|ot] [--workdir DIR]
    .venv/bin/python examples/stream_files.py --demo 200000      # makes two files of that many lines

Each file holds one indicator value per line. Lines are read lazily, canonicalized one by one and handed
to the streaming parties as a generator, so memory is bounded by the engine's chunk or bucket, never by
the file; the shared lines are found by reading the first file a second time (``select_items``). Both
parties run in this process and a function call carries their chunks; between two labs each runs its own
party and the chunks travel over the session transport (``connect --engine stream|stream-ot``), or over any
transport of the lab's own: the parties are sans-I/O.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from blindmatch import InvalidIndicator, canonicalize, indicator_item
from blindmatch.session import Identity
from blindmatch.streaming import run_streaming_in_memory, select_items


def items(path: Path, kind: str) -> Iterator[bytes]:
    """The PSI item of every non-empty line (a line that does not canonicalize is an error)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            value = line.strip()
            if not value:
                continue
            try:
                yield indicator_item(kind, canonicalize(kind, value))
            except InvalidIndicator as exc:
                raise SystemExit(f"{path}:{number}: {exc}") from None


def lines(path: Path) -> Iterator[str]:
    """The non-empty lines, in the order ``items`` reads them."""
    with open(path, encoding="utf-8") as f:
        yield from (line.strip() for line in f if line.strip())


def make_demo(n: int, folder: Path) -> tuple[Path, Path]:
    a, b = folder / "lab_a.txt", folder / "lab_b.txt"
    a.write_text("".join(f"user{i}@example.org\n" for i in range(n)), encoding="utf-8")
    b.write_text("".join(f"User{i}@Example.ORG\n" for i in range(n // 2, n + n // 2)), encoding="utf-8")
    return a, b


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", help="LAB_A LAB_B KIND")
    p.add_argument("--demo", type=int, metavar="N", help="make two files of N lines and compare them")
    p.add_argument("--engine", choices=("dh", "ot"), default="ot")
    p.add_argument("--workdir", help="where the spill files go (default: a temporary folder)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.demo:
            (a, b), kind = make_demo(args.demo, Path(tmp)), "email"
        elif len(args.files) == 3:
            a, b, kind = Path(args.files[0]), Path(args.files[1]), args.files[2]
        else:
            p.error("give LAB_A LAB_B KIND, or --demo N")
        started = time.perf_counter()
        mine, theirs = run_streaming_in_memory(
            items(a, kind), items(b, kind), "mutual", session_key=os.urandom(32), session_id=os.urandom(16),
            initiator_identity=Identity.generate(), responder_identity=Identity.generate(),
            workdir=args.workdir or tmp, engine=args.engine,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        shown = 0
        for line in select_items(lines(a), mine.matched_indices):
            if shown < 5:
                print(f"shared: {line}")
            shown += 1
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{shown} shared lines in {a.name} ({mine.count} distinct; the other side found "
              f"{theirs.count}); {mine.own_size} and {mine.peer_size} items; {args.engine} engine, "
              f"{seconds:.1f} s, peak RSS {peak:.0f} MiB for both parties")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
