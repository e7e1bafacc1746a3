"""The argument parser and the one place where errors become messages and exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from .._version import __version__
from ..errors import BlindmatchError, InvalidIndicator, LocalError, RemoteError
from . import (
    cmd_audit,
    cmd_bloom,
    cmd_canon,
    cmd_inspect,
    cmd_keys,
    cmd_net,
    cmd_psi,
    cmd_published,
    cmd_query,
    cmd_report,
    cmd_round,
    cmd_threshold,
)
from .exitcodes import CliError, ExitCode

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", default=False,
        help="no progress bars and no informational messages (errors are still printed)",
    )  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="blindmatch",
        description="Privacy-preserving indicator matching between labs. See docs/cli.md.",
        epilog="Exit codes: 0 ok, 1 nothing found, 2 usage, 3 invalid input, 4 peer error, 5 local error, "
        "6 audit findings, 7 audit pending.",
    )
    parser.add_argument("--version", action="version", version=f"blindmatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cmd_keys.add_parsers(sub, common)
    cmd_canon.add_parsers(sub, common)
    cmd_inspect.add_parsers(sub, common)
    cmd_psi.add_parsers(sub, common)
    cmd_net.add_parsers(sub, common)
    cmd_published.add_parsers(sub, common)
    cmd_query.add_parsers(sub, common)
    cmd_bloom.add_parsers(sub, common)
    cmd_audit.add_parsers(sub, common)
    cmd_round.add_parsers(sub, common)
    cmd_report.add_parsers(sub, common)
    cmd_threshold.add_parsers(sub, common)
    return parser


def _err(text: str) -> None:
    print(f"blindmatch: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script passes it to ``sys.exit``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    try:
        return int(args.func(args))
    except CliError as exc:
        _err(exc.message)
        return exc.code
    except InvalidIndicator as exc:
        _err(str(exc))
        return ExitCode.INVALID_INPUT
    except RemoteError as exc:
        _err(str(exc))
        return ExitCode.PEER
    except LocalError as exc:
        _err(str(exc))
        return ExitCode.LOCAL
    except KeyboardInterrupt:
        _err("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return ExitCode.BROKEN_PIPE
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _err(f"{exc.strerror or exc}{where}")
        return ExitCode.LOCAL
    except BlindmatchError as exc:
        _err(str(exc))
        return ExitCode.LOCAL
    except Exception as exc:
        if os.environ.get("BLINDMATCH_DEBUG"):
            traceback.print_exc()
        _err(f"internal error ({type(exc).__name__}); please report it (BLINDMATCH_DEBUG=1 shows details)")
        return ExitCode.INTERNAL
