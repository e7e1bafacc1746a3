"""``threshold lab`` / ``threshold coordinate``: an over-threshold run among the labs of a group file,
through a shared folder (docs/groups.md, "Running it")."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TypeAlias

from ..groups.dropbox import DropboxTimeout
from ..groups.forum_policy import PolicyViolation
from ..groups.threshold import coordinate_threshold, run_threshold
from ._common import Messages, positive_float
from ._session_io import add_identity_args, add_input_args, load_identity, load_inputs
from .cmd_round import add_round_file_args, load_round_files
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _run_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("the run")
    add_round_file_args(g)
    g.add_argument("--dropbox", required=True, metavar="DIR", help="the run's shared folder")
    g.add_argument("--timeout", type=positive_float, default=600.0, metavar="SECONDS",
                   help="give up when nothing new arrives for this long (default: 600)")  # fmt: skip
    g.add_argument("--poll", type=positive_float, default=0.5, metavar="SECONDS",
                   help="how often to look into the folder (default: 0.5)")  # fmt: skip
    g.add_argument("--state-dir", default="blindmatch-threshold", metavar="DIR",
                   help="our state: the newest forum policy version accepted (rollback protection) and, for "
                   "a lab, the run's seed until the run ends (rerun with the same folder to resume; "
                   "default: blindmatch-threshold)")  # fmt: skip


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "threshold",
        help="over-threshold run: which of our indicators at least t of the group's labs hold",
        description="An over-threshold run among the labs of a group file: each lab learns which of its "
        "indicators at least t labs hold, and nothing about the others; the forum coordinates without "
        "any key. See docs/groups.md.",
    )
    steps = top.add_subparsers(dest="step", required=True, metavar="STEP")
    lab = steps.add_parser("lab", parents=[common], help="our side of the run")
    add_identity_args(lab, peers=False)
    add_input_args(lab)
    _run_args(lab)

    lab.add_argument("--report", default="threshold-report.json", metavar="FILE",
                     help="our report (default: threshold-report.json)")  # fmt: skip
    lab.set_defaults(func=run_lab_cmd)
    coord = steps.add_parser("coordinate", parents=[common], help="the forum's side: relay, join, answer")
    add_identity_args(coord, peers=False)
    _run_args(coord)
    coord.set_defaults(func=run_coordinator_cmd)


def run_lab_cmd(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    now = time.time()
    identity = load_identity(args.identity)
    policy, group = load_round_files(args, now)
    iset = load_inputs(args, msgs)
    try:
        report = run_threshold(group, policy, identity, iset, args.dropbox, args.state_dir, now=now,
                               timeout=args.timeout, interval=args.poll)  # fmt: skip
    except PolicyViolation as exc:
        raise CliError(ExitCode.PEER, f"refused before anything was sent: {exc}") from None
    except DropboxTimeout as exc:
        raise CliError(ExitCode.PEER, f"{exc} (nobody gets a result; rerun with the same --state-dir to "
                       "resume)") from None  # fmt: skip
    path = report.write(Path(args.report))
    msgs.out(f"round {report.round}: {len(report.rows)} of our indicator rows are held by at least "
             f"{report.threshold} of the {len(report.labs)} labs")  # fmt: skip
    msgs.out(f"  wrote {path}")
    return ExitCode.OK


def run_coordinator_cmd(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    now = time.time()
    identity = load_identity(args.identity)
    policy, group = load_round_files(args, now)
    try:
        passed = coordinate_threshold(group, policy, identity, args.dropbox, now=now, timeout=args.timeout,
                                      interval=args.poll)  # fmt: skip
    except PolicyViolation as exc:
        raise CliError(ExitCode.PEER, f"refused: {exc}") from None
    except DropboxTimeout as exc:
        raise CliError(ExitCode.PEER, f"{exc} (no lab gets a result)") from None
    msgs.out(f"round {group.round}: every lab has its result")
    for name, count in passed.items():
        msgs.out(f"  {name}: {count} slots passed")
    return ExitCode.OK
