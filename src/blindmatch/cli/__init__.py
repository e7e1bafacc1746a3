"""The ``blindmatch`` command. ``main(argv)`` returns the exit code; see ``docs/cli.md``."""

from __future__ import annotations

from ._app import build_parser, main
from .exitcodes import CliError, ExitCode
from .progress import Progress

__all__ = ["CliError", "ExitCode", "Progress", "build_parser", "main"]
