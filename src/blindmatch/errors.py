"""The exception hierarchy.

Every exception blindmatch raises on purpose derives from :class:`BlindmatchError`, split in two:

* :class:`LocalError` -- the caller did something wrong (bad argument, a call out of order, an indicator
  that does not canonicalize, a filter filled past capacity). Fix the calling code or the local data.
* :class:`RemoteError` -- something that came from outside the process is bad: a peer's protocol message,
  a file received from another lab. Hostile input can only ever produce this kind.

Messages never contain secret keys, scalars, or the values of indicators.
"""

from __future__ import annotations

__all__ = [
    "BlindmatchError",
    "CapacityError",
    "FileAccessError",
    "InputChanged",
    "InputUnreadable",
    "InvalidIndicator",
    "InvalidInputs",
    "InvalidParameter",
    "LocalError",
    "LocalProtocolError",
    "MalformedFile",
    "RemoteError",
    "RemoteProtocolError",
]


class BlindmatchError(Exception):
    """Root of every error blindmatch raises deliberately."""


class LocalError(BlindmatchError):
    """The local caller misused the API or supplied bad local data."""


class RemoteError(BlindmatchError):
    """Data that came from outside (a peer, a received file) is malformed or hostile."""


class InvalidIndicator(LocalError, ValueError):
    """An indicator value could not be canonicalized (or its kind is unknown).

    ``kind`` and ``reason`` are set; the offending value is deliberately not kept in the message, since
    indicators are the data we must not leak into logs.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind!s} indicator: {reason}")
        self.kind = kind
        self.reason = reason


class InvalidParameter(LocalError, ValueError):
    """A parameter (key, size, mode, option) is out of range or of the wrong form."""


class FileAccessError(InvalidParameter):
    """A local file cannot be read or written (missing, no permission, disk full, not a regular file).

    Match this class, never the message text. A subclass of :class:`InvalidParameter` (what these failures
    raised before), so existing handlers still catch it."""


class CapacityError(LocalError):
    """A structure would exceed the capacity it was created for (and the caller did not opt in)."""


class LocalProtocolError(LocalError):
    """A protocol object was used out of order, twice, or after it failed."""


class RemoteProtocolError(RemoteError):
    """A peer's protocol message is malformed, out of order, replayed or otherwise unacceptable."""


class MalformedFile(RemoteError, ValueError):
    """A file received from elsewhere (a Bloom filter, an exchange file, a message file) is malformed."""


class InputUnreadable(FileAccessError):
    """A local input file cannot be read (missing, a folder, no permission). The message names the path.

    A :class:`FileAccessError`, so an :class:`InvalidParameter` (what unreadable inputs raised before it
    existed)."""


class InvalidInputs(LocalError, ValueError):
    """Indicators of the inputs do not canonicalize (``errors="raise"``), counted after every input is read.

    ``invalid`` counts them by ``"<kind>: <reason>"``; ``problems`` are the first few as
    ``"<origin>: invalid <kind> indicator: <reason>"``: origins and reasons, never values.
    """

    def __init__(self, invalid: dict[str, int], problems: tuple[str, ...]) -> None:
        n = sum(invalid.values())
        super().__init__(f"{n} indicator(s) do not canonicalize")
        self.invalid = dict(invalid)
        self.problems = tuple(problems)


class InputChanged(LocalError):
    """An input file read again (for a report, or by a later step) no longer holds what was read before."""
