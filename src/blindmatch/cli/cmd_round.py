"""``round``: our pairwise sessions of a round of n labs (a group file signed by the forum), resumable,
merged into one local report (docs/groups-rounds.md)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TypeAlias

from .._fileio import atomic_write
from ..errors import BlindmatchError, CapacityError, MalformedFile
from ..groups import Group, NotInGroup, RoundResult, load_group, run_round
from ..groups.forum_policy import ForumPolicy, PolicyViolation, load_policy
from ._audit_args import read_public_key
from ._common import Messages, positive_float, positive_int
from ._session_io import add_identity_args, add_input_args, load_identity, load_inputs
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "round",
        parents=[common],
        help="run our pairwise sessions of a round of n labs and merge them into one report",
        description="Run our pairwise sessions of the round the group file describes (the earlier lab "
        "in the group order serves, the later connects), all at once, and write one merged local report. "
        "Pairs completed in an earlier run are not run again. See docs/groups-rounds.md.",
    )
    add_identity_args(p, peers=False)
    add_input_args(p)
    g = p.add_argument_group("the round")
    add_round_file_args(g)
    g.add_argument("--state-dir", default="blindmatch-round", metavar="DIR",
                   help="where each pair's report and records and the merged report go; rerunning with the "
                   "same folder resumes the round (default: blindmatch-round)")  # fmt: skip
    g.add_argument("--report", metavar="FILE", help="the merged report (default: DIR/round-report.json)")
    g.add_argument("--timeout", type=positive_float, default=600.0, metavar="SECONDS",
                   help="the round's deadline: pairs not done by then fail (default: 600)")  # fmt: skip
    g.add_argument("--read-timeout", type=positive_float, default=60.0, metavar="SECONDS",
                   help="longest wait for any single message from a peer (default: 60)")  # fmt: skip
    g.add_argument("--redo", action="append", default=[], metavar="LAB",
                   help="run the pair with LAB again even though it completed (repeatable; the peer must "
                   "run it again too)")  # fmt: skip
    g.add_argument("--listen", metavar="HOST:PORT",
                   help="where to listen for the later labs (default: our group file endpoint)")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=1, help="processes for the PSI work (default: 1)")
    p.set_defaults(func=run_round_cmd)


def add_round_file_args(g: argparse._ArgumentGroup) -> None:
    """``--group``, ``--policy``, ``--forum-key``: what :func:`load_round_files` reads."""
    g.add_argument("--group", required=True, metavar="FILE",
                   help="the round's group file (signed by the forum)")  # fmt: skip
    g.add_argument("--policy", required=True, metavar="FILE", help="the forum's signed policy file")
    g.add_argument("--forum-key", required=True, metavar="FORUM.pub",
                   help="the forum's public key file (obtained out of band)")  # fmt: skip


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 21)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def load_round_files(args: argparse.Namespace, now: float) -> tuple[ForumPolicy, Group]:
    """The forum policy and the group file named by ``--policy``, ``--group`` and ``--forum-key``."""
    forum_key = read_public_key(args.forum_key, "--forum-key")
    try:
        policy = load_policy(_read(args.policy, "policy file"), forum_key, now=now)
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{args.policy}: {exc}") from None
    try:
        _not_rolled_back(policy, Path(args.state_dir))
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{args.policy}: {exc}") from None
    try:
        group = load_group(_read(args.group, "group file"), policy, now=now)
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{args.group}: {exc}") from None
    return policy, group


def _not_rolled_back(policy: ForumPolicy, state_dir: Path) -> None:
    """Rollback protection across runs: the newest policy version this state folder accepted (and its
    digest) is kept in ``forum-policy-seen.json``; an older version, or the same version with other
    contents, is refused (PolicyRollback)."""
    path = state_dir / "forum-policy-seen.json"
    if path.is_file() and not path.is_symlink():
        try:
            seen = json.loads(path.read_bytes())
            forum, version, digest = seen["forum"], int(seen["version"]), bytes.fromhex(seen["digest"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(ExitCode.LOCAL, f"{path} is damaged ({exc}): check it, or remove it") from None
        if forum == policy.forum:
            policy.check_version_not_older(version, digest)
            if version == policy.version:
                return
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    doc = {"forum": policy.forum, "version": policy.version, "digest": policy.digest.hex()}
    atomic_write(path, json.dumps(doc).encode() + b"\n", mode=0o600)


def _summary(result: RoundResult) -> list[str]:
    r = result.report
    lines = [f"round {r.round}: {len(result.pairs) - len(result.failed)} of {len(result.pairs)} pairs done"]
    for p in result.pairs:
        if p.status == "done":
            how = " (completed in an earlier run)" if p.resumed else ""
            lines.append(f"  {p.peer}: done, holds {len(p.matched)} of ours{how}")
        else:
            lines.append(f"  {p.peer}: FAILED: {p.error}")
    lines.append(f"  {len(r.indicators)} of our indicator rows held by another lab; "
                 f"{len(r.over_threshold)} held by at least {r.threshold} labs")  # fmt: skip
    lines.append(f"  wrote {result.report_path}")
    return lines


def run_round_cmd(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    now = time.time()
    identity = load_identity(args.identity)
    policy, group = load_round_files(args, now)
    iset = load_inputs(args, msgs)
    try:
        result = run_round(
            group, policy, identity, iset, args.state_dir, timeout=args.timeout,
            read_timeout=args.read_timeout, redo=args.redo, report_path=args.report, listen=args.listen,
            workers=args.workers, log=msgs.info,
        )  # fmt: skip
    except PolicyViolation as exc:
        raise CliError(ExitCode.PEER, f"refused before anything was sent: {exc}") from None
    except (NotInGroup, CapacityError) as exc:
        raise CliError(ExitCode.USAGE, f"{exc} (nothing was sent)") from None
    except BlindmatchError as exc:
        if isinstance(exc, MalformedFile):
            raise CliError(ExitCode.INVALID_INPUT, str(exc)) from None
        raise
    lines = _summary(result)
    if result.failed:
        for line in lines:
            msgs.info(line.strip())
        names = ", ".join(p.peer for p in result.failed)
        raise CliError(ExitCode.PEER, f"{len(result.failed)} pair(s) failed ({names}); the report counts "
                       "nothing of them; run the round again to retry them")  # fmt: skip
    for line in lines:
        msgs.out(line)
    return ExitCode.OK
