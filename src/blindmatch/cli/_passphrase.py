"""Where the CLI gets the passphrase of an encrypted identity file, one rule for every command: the
environment variable ``BLINDMATCH_PASSPHRASE`` if it is set, else a ``getpass`` prompt if standard input
is a terminal, else the command stops (exit 5) saying how to give it. Never echoed, never printed."""

from __future__ import annotations

import getpass
import os
import sys

from .exitcodes import CliError, ExitCode

__all__ = ["PASSPHRASE_ENV", "get_passphrase"]

PASSPHRASE_ENV = "BLINDMATCH_PASSPHRASE"  # noqa: S105 - a variable name, not a secret

# A passphrase typed once is not asked again by a later load of the same file in the same command.
_typed: dict[str, bytes] = {}


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def get_passphrase(path: str, *, new: bool = False) -> bytes:
    """The passphrase for the identity file ``path`` (``new``: one to encrypt it with, typed twice)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        if not env:
            raise CliError(ExitCode.LOCAL, f"{PASSPHRASE_ENV} is set but empty: give the passphrase in it")
        return _encode(env)
    key = os.path.abspath(path)
    if not new and key in _typed:
        return _typed[key]
    if not sys.stdin.isatty():
        what = "a new identity key is to be encrypted" if new else "the identity file is encrypted"
        raise CliError(
            ExitCode.LOCAL,
            f"{path}: {what}: set {PASSPHRASE_ENV} to its passphrase, or run the command in a terminal to "
            "type it",
        )
    try:
        first = getpass.getpass(f"passphrase for {path}: ")
        if new:
            again = getpass.getpass(f"passphrase for {path} (again): ")
            if again != first:
                raise CliError(ExitCode.LOCAL, "the two passphrases differ: nothing written")
    except EOFError:
        raise CliError(ExitCode.LOCAL, "no passphrase given") from None
    if not first:
        raise CliError(ExitCode.LOCAL, "the passphrase is empty")
    _typed[key] = _encode(first)
    return _typed[key]
