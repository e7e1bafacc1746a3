"""Helpers the subcommands share: messages on stderr, line reading, key files."""

from __future__ import annotations

import argparse
import math
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .exitcodes import CliError, ExitCode

__all__ = [
    "MAX_LINE_REPORTS",
    "Messages",
    "add_deprecated_alias",
    "iter_input_lines",
    "open_input",
    "port_number",
    "positive_float",
    "positive_int",
    "probability",
    "read_token_key",
]

#: How many per-line problems are printed before only counting the rest.
MAX_LINE_REPORTS = 50


class Messages:
    """Writes ``blindmatch: ...`` lines on stderr and summaries on stdout; ``info`` and ``out`` are silenced
    by ``--quiet``, problems are not."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.stdout_is_data = False
        self._line_reports = 0
        self._suppressed = 0

    def info(self, text: str) -> None:
        if not self.quiet:
            print(f"blindmatch: {text}", file=sys.stderr)

    def out(self, text: str) -> None:
        """A line of a command's summary on standard output (on standard error when standard output
        carries data, e.g. ``--out -``); ``--quiet`` silences it: the outputs are in the files."""
        if not self.quiet:
            print(text, file=sys.stderr if self.stdout_is_data else sys.stdout, flush=True)

    def warn(self, text: str) -> None:
        print(f"blindmatch: warning: {text}", file=sys.stderr)

    def line_problem(self, text: str, *, quiet_ok: bool) -> None:
        """A per-line report; capped at :data:`MAX_LINE_REPORTS`; with ``quiet_ok`` ``--quiet`` hides it."""
        if quiet_ok and self.quiet:
            return
        if self._line_reports >= MAX_LINE_REPORTS:
            self._suppressed += 1
            return
        self._line_reports += 1
        print(f"blindmatch: {text}", file=sys.stderr)

    def flush_suppressed(self) -> None:
        if self._suppressed:
            print(f"blindmatch: ... and {self._suppressed} more", file=sys.stderr)
            self._suppressed = 0


class _DeprecatedAlias(argparse.Action):
    """An old spelling of an option: hidden from ``--help``, still accepted, with a warning naming the new
    one (so scripts keep working while they are updated)."""

    def __init__(self, option_strings: list[str], dest: str, *, new: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, **kwargs)  # type: ignore[arg-type]
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"blindmatch: warning: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, old: str, new: str, dest: str, **kwargs: object
) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of ``new`` (same ``dest``)."""
    p.add_argument(old, dest=dest, action=_DeprecatedAlias, new=new, help=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]


# -- argument types: a bad number is a usage error (exit 2) before any file is read ---------------------


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def port_number(text: str) -> int:
    """An ``argparse`` type: a TCP port, 0 to 65535 (0: any free port, where that makes sense)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {value}")
    return value


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number greater than 0 (seconds, say)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, not {text}")
    return value


def probability(text: str) -> float:
    """An ``argparse`` type: a number strictly between 0 and 1."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1, not {text}")
    return value


def open_input(path: str | None) -> BinaryIO:
    if path is None or path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot read {path}: {exc.strerror or exc}") from None


def iter_input_lines(stream: BinaryIO) -> Iterator[tuple[int, str | None]]:
    """``(line number, text)``; text is None for a line that is not UTF-8. ``\\n``/``\\r\\n`` removed."""
    for n, raw in enumerate(stream, 1):
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        try:
            yield n, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield n, None


def read_token_key(path: str, msgs: Messages) -> bytes:
    """A token key file holds the key in hex (at least 16 bytes), whitespace allowed."""
    p = Path(path)
    try:
        st = p.stat()
        raw = p.read_bytes()[: 1 << 16]
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot read key file {p}: {exc.strerror or exc}") from None
    if os.name == "posix" and stat.S_IMODE(st.st_mode) & 0o077:
        msgs.warn(f"key file {p} is readable by other users; chmod 600 it")
    try:
        text = raw.decode("ascii")
        key = bytes.fromhex("".join(text.split()))
    except (UnicodeDecodeError, ValueError):
        raise CliError(ExitCode.INVALID_INPUT, f"key file {p} must hold the key as hex digits") from None
    if len(key) < 16:
        raise CliError(ExitCode.INVALID_INPUT, f"key in {p} is {len(key)} bytes; at least 16 are needed")
    return key
