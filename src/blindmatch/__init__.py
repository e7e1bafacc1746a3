"""blindmatch: privacy-preserving indicator matching between labs that must reveal nothing else.

The public API is what ``__all__`` lists; modules whose names start with ``_`` and the ``hazmat``
subpackage are internals whose interfaces may change.
"""

from __future__ import annotations

from ._version import __version__
from .canonical import CANON_VERSION, KINDS, CanonBatch, canonicalize, canonicalize_many
from .errors import (
    BlindmatchError,
    CapacityError,
    InvalidIndicator,
    InvalidParameter,
    LocalError,
    LocalProtocolError,
    MalformedFile,
    RemoteError,
    RemoteProtocolError,
)
from .tokens import TokenBatch, Tokenizer

__all__ = [
    "CANON_VERSION",
    "KINDS",
    "BlindmatchError",
    "CanonBatch",
    "CapacityError",
    "InvalidIndicator",
    "InvalidParameter",
    "LocalError",
    "LocalProtocolError",
    "MalformedFile",
    "RemoteError",
    "RemoteProtocolError",
    "TokenBatch",
    "Tokenizer",
    "__version__",
    "canonicalize",
    "canonicalize_many",
]
