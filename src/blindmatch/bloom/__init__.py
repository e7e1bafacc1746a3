"""Bloom filters: a vectorized filter, the native and DCSO ``dcso-v1`` file formats, and the
consortium-key exchange.

* :class:`BloomFilter` -- ``for_capacity(n, fpr)``, ``update``/``contains_many`` in bulk, ``|`` union.
* :mod:`~blindmatch.bloom.native` -- our file format (``to_bytes``/``from_bytes``/``save``/``load``).
* :class:`DcsoFile`, :func:`dcso_filter` -- read and write DCSO's format, with its unkeyed FNV-1 hashing.
* :func:`build_exchange`, :class:`ExchangeFile` -- share a filter of keyed tokens with key holders.
  It protects only against outsiders: every key holder can test guesses offline (``docs/bloom-exchange.md``).
"""

from __future__ import annotations

from .consortium import (
    EXCHANGE_NAME,
    ExchangeCandidate,
    ExchangeFile,
    ExchangeMatches,
    ExchangeMismatch,
    build_exchange,
)
from .dcso import DcsoFile, dcso_filter, dcso_parameters
from .filter import MAX_BITS, MAX_K, BloomFilter, optimal_parameters
from .metadata import FilterMetadata
from .schemes import SCHEMES, HashScheme

__all__ = [
    "EXCHANGE_NAME",
    "MAX_BITS",
    "MAX_K",
    "SCHEMES",
    "BloomFilter",
    "DcsoFile",
    "ExchangeCandidate",
    "ExchangeFile",
    "ExchangeMatches",
    "ExchangeMismatch",
    "FilterMetadata",
    "HashScheme",
    "build_exchange",
    "dcso_filter",
    "dcso_parameters",
    "optimal_parameters",
]
