"""Published sets: a publisher posts its indicators once per epoch as a signed, OPRF-encoded, labelled file
(docs/published-sets.md); trusted queriers check their own suspects against it, item by item, through an
authenticated query session with the publisher, which charges each querier's budget."""

from __future__ import annotations

from .budget import (
    DEFAULT_CAPS,
    DEFAULT_KIND_CAP,
    EvaluationBudget,
    MemoryEvaluationBudget,
    StoredEvaluationBudget,
)
from .errors import (
    EpochKeyError,
    EvaluationBudgetExceeded,
    ExpiredFile,
    ForgedFile,
    InvalidProof,
    LogMismatch,
    MalformedPublishedFile,
    MismatchedFiles,
    PublishedSetError,
)
from .file import PublishedFile
from .log import EMPTY_HEAD, LogEntry, PublicationLog, append_to_log
from .publisher import DEFAULT_EVALUATIONS, EpochKey, build_file
from .query import Match, Querier, QueryResult
from .record import verify_query_record
from .session import PublisherSession, QuerySession

__all__ = [
    "DEFAULT_CAPS",
    "DEFAULT_EVALUATIONS",
    "DEFAULT_KIND_CAP",
    "EMPTY_HEAD",
    "EpochKey",
    "EpochKeyError",
    "EvaluationBudget",
    "EvaluationBudgetExceeded",
    "ExpiredFile",
    "ForgedFile",
    "InvalidProof",
    "LogEntry",
    "LogMismatch",
    "MalformedPublishedFile",
    "Match",
    "MemoryEvaluationBudget",
    "MismatchedFiles",
    "PublicationLog",
    "PublishedFile",
    "PublishedSetError",
    "PublisherSession",
    "Querier",
    "QueryResult",
    "QuerySession",
    "StoredEvaluationBudget",
    "append_to_log",
    "build_file",
    "verify_query_record",
]
