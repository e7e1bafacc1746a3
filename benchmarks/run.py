"""Run every benchmark module and print one Markdown report.

Usage: ``python -m benchmarks.run [--quick] [--only NAME ...] [--out FILE]``. Each ``bench_*.py`` module
exposes ``run(quick: bool) -> list[Table]``. Timings are noisy on shared machines: compare the ratios
within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path

import benchmarks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--only", nargs="*", default=None, help="module names (e.g. tokens psi bloom)")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    args = ap.parse_args(argv)

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    header = (
        f"## blindmatch benchmarks ({'quick' if args.quick else 'full'})\n\n"
        f"- Python {platform.python_version()} on {platform.machine()}, {platform.system()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    parts = [header]
    print(header, flush=True)
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        t0 = time.perf_counter()
        for table in mod.run(args.quick):
            text = table.to_markdown()
            print(text, flush=True)
            parts.append(text)
        print(f"({name}: {time.perf_counter() - t0:.1f} s)\n", file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text("\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
