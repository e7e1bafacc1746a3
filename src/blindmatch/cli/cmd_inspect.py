"""``inspect``: what our input files would contribute to an exchange, before running one."""

from __future__ import annotations

import argparse
import json
from typing import TypeAlias

from ._common import Messages
from ._session_io import add_input_args, load_inputs
from .exitcodes import ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "inspect",
        parents=[common],
        help="count what input files hold, per kind (nothing is sent anywhere)",
        description="Read and canonicalize input files as an exchange would, and print per kind how many "
        "rows and distinct indicators they hold, and what is invalid, unmapped or ignored (by type "
        "and reason, never by value). Exit 3 when some indicators are invalid, unless --skip-invalid.",
    )
    add_input_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    wanted_skip = args.skip_invalid
    args.skip_invalid = True  # count everything first; decide the exit code below
    iset = load_inputs(args, msgs)
    summary = iset.summary()
    summary["rows_per_kind"] = iset.rows_per_kind()
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        for f in summary["files"]:
            print(f"{f['file']} ({f['format']}): {f['rows']} rows")
        print(f"\n  {'kind':22s} {'rows':>8s} {'distinct':>9s}")
        for kind, n in summary["rows_per_kind"].items():
            print(f"  {kind:22s} {n:8d} {summary['distinct_per_kind'][kind]:9d}")
        for title in ("invalid", "unmapped", "ignored", "refanged"):
            entries = summary[title]
            if entries:
                print(f"\n  {title}:")
                for name, n in entries.items():
                    print(f"    {name}: {n}")
    if summary["invalid"] and not wanted_skip:
        return ExitCode.INVALID_INPUT
    return ExitCode.OK
