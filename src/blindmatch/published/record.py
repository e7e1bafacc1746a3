"""Query disclosure records: what one published-set query disclosed, signed by the party that ran it.

A JSON object (docs/published-sets.md): ``format`` "blindmatch-query-record", ``version`` 1, ``role``
(``querier`` or ``publisher``), ``session_id``, ``transcript_hash``, ``publisher`` and ``querier`` (keys,
hex), ``epoch``, ``base`` (the base file id), ``counts`` (evaluations asked per kind), ``verifiable``,
``outcome`` (``completed``, ``refused`` or ``failed``), ``error`` and ``reason`` (or null), ``matched`` (the
querier's number of matches; null for the publisher, who learns none), ``time`` (ISO UTC), and a
``signature`` member as in exchange records (``session.record.sign_record``). Never an indicator or label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._strictjson import object_without_duplicates
from ..errors import InvalidParameter
from ..session._canonjson import canonical_json
from ..session.errors import InvalidRecord
from ..session.identity import Identity, PublicIdentity
from ..session.record import _CONTEXT as RECORD_CONTEXT
from ..session.record import _signature_bytes, iso_time, sign_record

__all__ = ["QUERY_RECORD_FORMAT", "query_record", "verify_query_record"]

QUERY_RECORD_FORMAT = "blindmatch-query-record"
_MEMBERS = (
    "publisher",
    "querier",
    "epoch",
    "base",
    "counts",
    "verifiable",
    "outcome",
    "error",
    "reason",
    "matched",
)


def query_record(
    identity: Identity,
    role: str,
    session_id: bytes,
    transcript_hash: bytes,
    facts: Mapping[str, Any],
    now: int,
) -> dict[str, Any]:
    """The signed record of one query from ``facts`` (what the party learned; missing ones are null)."""
    body: dict[str, Any] = {
        "format": QUERY_RECORD_FORMAT,
        "version": 1,
        "role": role,
        "session_id": session_id.hex(),
        "transcript_hash": transcript_hash.hex(),
        "time": iso_time(now),
    }
    for member in _MEMBERS:
        body[member] = facts.get(member)
    if role == "publisher":
        body["matched"] = None
    counts = body["counts"]
    if isinstance(counts, dict):  # the peer's declared counts, kept only when well formed
        body["counts"] = {str(k)[:64]: v for k, v in counts.items() if isinstance(v, int)}
    canonical_json(body)  # raises for anything JSON cannot carry one way
    return sign_record(identity, body)


def verify_query_record(
    record: Mapping[str, Any] | str | bytes, public_key: PublicIdentity
) -> dict[str, Any]:
    """Check a query record's signature and format; the record as a dict (:class:`InvalidRecord` if not)."""
    if isinstance(record, str | bytes):
        try:
            record = json.loads(record, object_pairs_hook=object_without_duplicates)
        except (ValueError, RecursionError):
            raise InvalidRecord("the query record is not JSON (or nests too deeply)") from None
    if not isinstance(record, Mapping) or record.get("format") != QUERY_RECORD_FORMAT:
        raise InvalidRecord("not a query record")
    doc = dict(record)
    sig = doc.get("signature")
    if not isinstance(sig, dict) or sig.get("public_key") != public_key.to_text():
        raise InvalidRecord("the query record is signed by another key")
    return _verify_signature(doc, public_key)


def _verify_signature(doc: dict[str, Any], key: PublicIdentity) -> dict[str, Any]:
    """The exchange records' signature, checked the same way (one canonical encoding, the same context)."""
    sig = doc.pop("signature")
    raw = _signature_bytes(sig)
    try:
        signed = RECORD_CONTEXT + canonical_json(doc)
    except InvalidParameter:  # a float, a huge integer, too deep: no canonical form, so never signed
        raise InvalidRecord("the query record holds values canonical JSON cannot carry") from None
    if not key.verify(raw, signed):
        raise InvalidRecord("the query record's signature does not verify")
    doc["signature"] = sig
    return doc
