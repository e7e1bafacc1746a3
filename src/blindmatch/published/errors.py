"""Errors of published sets: every one a :class:`~blindmatch.RemoteError` (a file, a log or a peer's
answer that came from elsewhere), except :class:`EpochKeyError`, which is about our own key file."""

from __future__ import annotations

from ..errors import FileAccessError, MalformedFile, RemoteError, RemoteProtocolError
from ..hazmat.oprf import InvalidProof

__all__ = [
    "EpochKeyError",
    "EvaluationBudgetExceeded",
    "ExpiredFile",
    "ForgedFile",
    "InvalidProof",
    "LogMismatch",
    "MalformedPublishedFile",
    "MismatchedFiles",
    "PublishedSetError",
]


class PublishedSetError(RemoteError):
    """Root of the errors a published file, a log or a publisher's answer can cause."""


class MalformedPublishedFile(PublishedSetError, MalformedFile):
    """The bytes are not a well-formed published-set file (bad magic, header, sections or sizes)."""


class ForgedFile(MalformedPublishedFile):
    """The file's signature does not verify, or it is signed by another key than the publisher named."""


class ExpiredFile(PublishedSetError):
    """The file is outside its validity window (expired, or not yet valid)."""


class MismatchedFiles(PublishedSetError):
    """Files that should belong together do not: another publisher, epoch, suite or key for a kind, or a
    delta that names another base file."""


class LogMismatch(PublishedSetError):
    """The host's log does not show this file as the one and only file at its place (publisher, epoch,
    sequence), or the log is not a well-formed extension of the log seen before."""


class EvaluationBudgetExceeded(PublishedSetError, RemoteProtocolError):
    """A querier asked for more evaluations than its budget (per epoch and kind) or the file's lifetime
    bound allows."""


class EpochKeyError(FileAccessError):
    """Our own epoch key file cannot be read, is not private, is not an epoch key, or was destroyed."""
