"""Attack helpers against published sets (issue 14): hostile queriers, hostile publishers, a hostile host.

Importable, no side effects: every helper builds bytes or drives sessions given to it. Used by
tests/test_published_review.py; handy from a REPL too (``from published_attacks import *``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from blindmatch.psi import IndicatorItems
from blindmatch.published import EpochKey, PublishedFile, PublisherSession, QuerySession, build_file
from blindmatch.published.file import MAGIC, SIGNATURE_BYTES, file_signed_bytes
from blindmatch.session._canonjson import canonical_json
from blindmatch.session.channel import (
    ROLE_INITIATOR,
    T_DATA,
    T_QUERY,
    pack_header,
    sign_message,
)
from blindmatch.session.identity import Identity

NOW = 1_800_000_000
PUB = Identity.from_seed(bytes(range(32)))
QRY = Identity.from_seed(bytes(range(1, 33)))
EVE = Identity.from_seed(bytes(range(2, 34)))
#: The Ed25519 identity point: with the signature R = identity, S = 0, it "verifies" every message.
WEAK_KEY = b"\x01" + bytes(31)
WEAK_SIGNATURE = b"\x01" + bytes(63)


def det_rng(seed: int) -> Callable[[int], bytes]:
    """Deterministic bytes (for reproducible files and sessions)."""
    state = [seed.to_bytes(8, "big")]

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            state[0] = hashlib.sha256(state[0]).digest()
            out += state[0]
        return out[:n]

    return rng


def clock() -> float:
    return float(NOW)


def epoch_key(identity: Identity = PUB, seed: int = 1, **kw: Any) -> EpochKey:
    args: dict[str, Any] = {
        "not_before": NOW - 10,
        "not_after": NOW + 86400,
        "tag_bits": 72,
        "label_bytes": 48,
        "evaluations": 1 << 20,
        "canon_version": 1,
        "rng": det_rng(seed),
    }
    args.update(kw)
    return EpochKey.generate(identity, "2026-12", **args)


DEFAULT_ITEMS = {"email": [f"u{i}@example.org" for i in range(8)], "ip": ["192.0.2.1", "192.0.2.7"]}
DEFAULT_LABELS = {("ip", "192.0.2.7"): {"campaign": "proxy-farm"}}


def publish(
    items: Mapping[str, list[str]] | None = None,
    labels: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    *,
    key: EpochKey | None = None,
    rng_seed: int = 3,
    **kw: Any,
) -> tuple[bytes, EpochKey]:
    """A signed base file by PUB and its advanced key."""
    items = DEFAULT_ITEMS if items is None else items
    labels = DEFAULT_LABELS if labels is None else labels
    key = key if key is not None else epoch_key(**kw)
    return build_file(PUB, key, IndicatorItems(items), labels=labels, rng=det_rng(rng_seed), clock=clock)


def split_file(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(header, body between header and signature) of a file's bytes (no checks)."""
    hlen = int.from_bytes(data[5:9], "big")
    return json.loads(data[9 : 9 + hlen]), data[9 + hlen : len(data) - SIGNATURE_BYTES]


def repack(
    header: Mapping[str, Any],
    body: bytes,
    sign: Callable[[bytes], bytes] = PUB.sign,
    raw_header: bytes | None = None,
) -> bytes:
    """File bytes with ``header`` (canonical JSON unless ``raw_header``) and ``body``, signed by ``sign``."""
    raw = raw_header if raw_header is not None else canonical_json(dict(header))
    unsigned = MAGIC + b"\x01" + len(raw).to_bytes(4, "big") + raw + body
    return unsigned + sign(file_signed_bytes(unsigned))


def resigned(
    data: bytes, edit: Callable[[dict[str, Any]], None], sign: Callable[[bytes], bytes] = PUB.sign
) -> bytes:
    """``data`` with its header edited by ``edit`` and signed again (a hostile publisher's own file)."""
    header, body = split_file(data)
    edit(header)
    return repack(header, body, sign)


def weak_key_file(data: bytes) -> bytes:
    """``data`` claimed by the Ed25519 identity key, with a signature anybody can make."""
    return resigned(data, lambda h: h.update(publisher=WEAK_KEY.hex()), lambda _m: WEAK_SIGNATURE)


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def run(q: QuerySession, p: PublisherSession) -> None:
    """Run a query session to its end (errors propagate)."""
    m: bytes | None = q.start()
    while m is not None:
        reply = p.receive(m)
        if reply is None:
            break
        m = q.receive(reply)


def query_message(
    identity: Identity,
    doc: Mapping[str, Any],
    session_id: bytes = b"S" * 16,
    raw_body: bytes | None = None,
) -> bytes:
    """A signed ``query`` (type 5) message with any body: what a hostile (but trusted) querier can send."""
    from blindmatch.session.channel import Transcript

    # canonical JSON's encoding, without its checks (a hostile querier sends what it likes)
    body = (
        raw_body
        if raw_body is not None
        else json.dumps(dict(doc), sort_keys=True, separators=(",", ":")).encode()
    )
    header = pack_header(
        T_QUERY, ROLE_INITIATOR, 0, session_id, Transcript().hash, identity.public.raw, len(body)
    )
    return sign_message(identity, header, body)


def query_doc(f: PublishedFile, counts: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
    """A well-formed query body for ``f`` (override members with ``kw``)."""
    doc: dict[str, Any] = {
        "publisher": PUB.public.raw.hex(),
        "epoch": f.epoch,
        "base": f.file_id.hex(),
        "counts": dict(counts),
        "verifiable": True,
        "ephemeral": (b"\x09" + bytes(31)).hex(),
        "time": NOW,
    }
    doc.update(kw)
    return doc


def with_request(q: QuerySession, p: PublisherSession, request: bytes) -> bytes | None:
    """Run the handshake, then have the querier seal ``request`` (any bytes) as its message 3 and give it to
    the publisher. Returns the publisher's reply (or raises its error)."""
    accept = p.receive(q.start())
    assert accept is not None
    q._querier.request = lambda: request  # type: ignore[method-assign]
    req = q.receive(accept)
    assert req is not None
    return p.receive(req)


def forged_reply(q: QuerySession, p: PublisherSession, respond: Callable[[bytes, bytes], bytes]) -> bytes:
    """Run the handshake and request; the publisher's message 4 carrying ``respond(request plaintext, proof
    context)`` (any bytes, sealed and signed properly) instead of the honest answer. Give it to ``q``."""
    accept = p.receive(q.start())
    assert accept is not None
    req = q.receive(accept)
    assert req is not None
    msg = p._read(req, p._expected + 16)
    plain = p._open(msg)
    return p._send(T_DATA, respond(plain, p._context))


def with_response(q: QuerySession, p: PublisherSession, respond: Callable[[bytes, bytes], bytes]) -> None:
    """:func:`forged_reply`, given to the querier."""
    q.receive(forged_reply(q, p, respond))
