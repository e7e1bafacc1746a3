"""blindmatch: privacy-preserving indicator matching between labs that must reveal nothing else.

Layers, lowest first (each is also importable as its own subpackage):

* canonicalization -- :func:`canonicalize`, :data:`CANON_VERSION`, :data:`KINDS`;
* keyed tokens -- :class:`Tokenizer`;
* private set intersection -- :class:`Initiator`, :class:`Responder` (sans-I/O, ``blindmatch.psi``);
* authenticated sessions -- :class:`InitiatorSession`, :class:`ResponderSession`, identities, peers,
  manifests, signed disclosure records (``blindmatch.session``);
* audits of audited sessions -- :func:`audit` re-executes both sides from their escrowed packages and
  :func:`sign_audit_report` / :func:`verify_audit_report` (``blindmatch.auditing``, docs/audit.md);
* Bloom-filter exchange -- :class:`BloomFilter`, :func:`build_exchange`, DCSO files (``blindmatch.bloom``);
* prompt near-duplicate fingerprints -- :func:`prompt_items` (``blindmatch.fingerprints``);
* inputs and reports -- :func:`read_indicators`, :class:`LocalReport`;
* the application layer -- :class:`IndicatorSet`: from input files to PSI items and back to a report.

The public API is what ``__all__`` lists. ``blindmatch.hazmat`` holds the group operations: hazardous
materials, for implementers and tests only. Transports and the command line live in
``blindmatch.transport`` and ``blindmatch.cli``.
"""

from __future__ import annotations

from ._version import __version__
from .auditing import AuditReport, audit, sign_audit_report, verify_audit_report
from .bloom import (
    BloomFilter,
    DcsoFile,
    ExchangeCandidate,
    ExchangeFile,
    ExchangeMatches,
    ExchangeMismatch,
    FilterMetadata,
    build_exchange,
    dcso_filter,
)
from .canonical import CANON_VERSION, KINDS, CanonBatch, canonicalize, canonicalize_many
from .errors import (
    BlindmatchError,
    CapacityError,
    FileAccessError,
    InputChanged,
    InputUnreadable,
    InvalidIndicator,
    InvalidInputs,
    InvalidParameter,
    LocalError,
    LocalProtocolError,
    MalformedFile,
    RemoteError,
    RemoteProtocolError,
)
from .fingerprints import (
    FingerprintProfile,
    PromptExchange,
    PromptFingerprints,
    PromptItems,
    PromptMatch,
    exchange_in_memory,
    fingerprint_prompts,
    max_band_items,
    prompt_items,
)
from .indicator_set import (
    SENSITIVE_KINDS,
    IndicatorMatch,
    IndicatorSet,
    InputSpec,
    PromptNearMatch,
    PsiItems,
    SetMatches,
    SourceSummary,
)
from .inputs import InputBatch, InputRow, read_indicators
from .outputs import LocalReport
from .psi import (
    IndicatorItems,
    Initiator,
    ProgressCallback,
    PsiResult,
    Responder,
    indicator_item,
    run_in_memory,
)
from .session import (
    AuditTerms,
    Identity,
    InitiatorSession,
    InvalidAuditPackage,
    Manifest,
    Peer,
    PeerStore,
    Policy,
    PublicIdentity,
    Refused,
    ResponderSession,
    SessionError,
    SessionResult,
    fingerprints_match,
    run_session_in_memory,
    verify_record,
)
from .tokens import TokenBatch, Tokenizer

__all__ = [
    "CANON_VERSION",
    "KINDS",
    "SENSITIVE_KINDS",
    "AuditReport",
    "AuditTerms",
    "BlindmatchError",
    "BloomFilter",
    "CanonBatch",
    "CapacityError",
    "DcsoFile",
    "ExchangeCandidate",
    "ExchangeFile",
    "ExchangeMatches",
    "ExchangeMismatch",
    "FileAccessError",
    "FilterMetadata",
    "FingerprintProfile",
    "Identity",
    "IndicatorItems",
    "IndicatorMatch",
    "IndicatorSet",
    "Initiator",
    "InitiatorSession",
    "InputBatch",
    "InputChanged",
    "InputRow",
    "InputSpec",
    "InputUnreadable",
    "InvalidAuditPackage",
    "InvalidIndicator",
    "InvalidInputs",
    "InvalidParameter",
    "LocalError",
    "LocalProtocolError",
    "LocalReport",
    "MalformedFile",
    "Manifest",
    "Peer",
    "PeerStore",
    "Policy",
    "ProgressCallback",
    "PromptExchange",
    "PromptFingerprints",
    "PromptItems",
    "PromptMatch",
    "PromptNearMatch",
    "PsiItems",
    "PsiResult",
    "PublicIdentity",
    "Refused",
    "RemoteError",
    "RemoteProtocolError",
    "Responder",
    "ResponderSession",
    "SessionError",
    "SessionResult",
    "SetMatches",
    "SourceSummary",
    "TokenBatch",
    "Tokenizer",
    "__version__",
    "audit",
    "build_exchange",
    "canonicalize",
    "canonicalize_many",
    "dcso_filter",
    "exchange_in_memory",
    "fingerprint_prompts",
    "fingerprints_match",
    "indicator_item",
    "max_band_items",
    "prompt_items",
    "read_indicators",
    "run_in_memory",
    "run_session_in_memory",
    "sign_audit_report",
    "verify_audit_report",
    "verify_record",
]
