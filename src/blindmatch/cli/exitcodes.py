"""Exit codes of the ``blindmatch`` command (documented in ``docs/cli.md``)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CliError", "ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    #: The command ran and found nothing (``bloom check`` with no candidate, like grep).
    NO_MATCH = 1
    #: Bad command line (unknown option, missing argument, unknown kind).
    USAGE = 2
    #: Our own input is invalid: an indicator that does not canonicalize, a malformed input or key file.
    INVALID_INPUT = 3
    #: The peer or something it sent is bad: protocol error, tampered or malformed message file, unknown
    #: or wrong peer key, refused session, disconnect or stall, unreachable peer.
    PEER = 4
    #: A local problem: a file that cannot be read or written, a busy port, unsafe or missing state file.
    LOCAL = 5
    #: ``audit``: the audit ran and found that a side deviated (its findings are in the signed report).
    AUDIT_FINDINGS = 6
    #: ``audit``: no finding so far, but a side's package is still awaited (its deadline has not passed).
    AUDIT_PENDING = 7
    #: A bug in blindmatch (please report it; set BLINDMATCH_DEBUG=1 for the traceback).
    INTERNAL = 70
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130
    #: Stopped by SIGTERM (``serve``; running sessions leave signed failed records).
    TERMINATED = 143
    #: Standard output was closed early (e.g. piped into ``head``).
    BROKEN_PIPE = 141


class CliError(Exception):
    """Raised by command code to stop with a message and an exit code (never shown as a traceback)."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
