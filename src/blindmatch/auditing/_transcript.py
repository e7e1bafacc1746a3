"""Reading a session transcript as the auditor: every signature, the chain, the handshake bodies, and the
data payloads decrypted with a side's traffic keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..session.channel import (
    ROLE_INITIATOR,
    T_ACCEPT,
    T_DATA,
    T_HELLO,
    Message,
    Opener,
    Transcript,
    parse_header,
    signed_bytes,
    split_message,
)
from ..session.identity import PublicIdentity
from ..session.manifest import Manifest

__all__ = ["Flow", "TranscriptProblem", "read_flow"]

ROLES = ("initiator", "responder")


class TranscriptProblem(Exception):
    """A transcript that does not verify; ``index`` is the first bad message, ``role`` its author."""

    def __init__(self, index: int, role: str | None, text: str) -> None:
        super().__init__(text)
        self.index, self.role = index, role


@dataclass
class Flow:
    """A verified transcript: the messages, each one's author, the manifest and the handshake bodies."""

    messages: list[Message]
    authors: list[str]
    manifest: Manifest
    hello: dict[str, Any]
    accept: dict[str, Any] | None
    hashes: list[bytes] = field(default_factory=list)  # the transcript hash after each message

    @property
    def final_hash(self) -> bytes:
        return self.hashes[-1]

    def data(self) -> list[tuple[int, str, Message]]:
        return [(i, a, m) for i, (a, m) in enumerate(zip(self.authors, self.messages, strict=True))
                if m.header.msg_type == T_DATA]  # fmt: skip

    def payloads(self, keys: tuple[bytes, bytes]) -> dict[int, bytes]:
        """The data payloads by transcript index, decrypted with ``(i2r, r2i)``; raises ``ValueError``
        when a tag does not verify (the keys are not this session's)."""
        openers = {"initiator": Opener(keys[0]), "responder": Opener(keys[1])}
        out: dict[int, bytes] = {}
        for i, author, msg in self.data():
            try:
                out[i] = openers[author].open(msg.header.raw, msg.body)
            except Exception as exc:  # TamperedMessage: not the keys of this session
                raise ValueError(str(exc)) from None
        return out


def _json(msg: Message) -> dict[str, Any]:
    doc = json.loads(msg.body.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    return doc


def read_flow(wire: tuple[bytes, ...] | list[bytes]) -> Flow:
    """Verify ``wire`` (signatures under the manifest's keys, sequence, chain) and parse its handshake."""
    if not wire:
        raise TranscriptProblem(0, None, "the transcript is empty")
    t = Transcript()
    messages: list[Message] = []
    authors: list[str] = []
    hashes: list[bytes] = []
    manifest: Manifest | None = None
    hello: dict[str, Any] | None = None
    accept: dict[str, Any] | None = None
    for i, data in enumerate(wire):
        try:
            header = parse_header(data)
            msg = split_message(data, header)
        except Exception as exc:
            raise TranscriptProblem(i, None, f"message {i} does not parse: {exc}") from None
        role = "initiator" if header.role == ROLE_INITIATOR else "responder"
        if header.seq != i or header.prev_hash != t.hash:
            raise TranscriptProblem(i, role, f"message {i} is out of order or chained to another transcript")
        if i == 0:
            if header.msg_type != T_HELLO or role != "initiator":
                raise TranscriptProblem(0, role, "the transcript does not start with the initiator's hello")
            try:
                hello = _json(msg)
                manifest = Manifest.from_dict(hello["manifest"])
            except Exception as exc:
                raise TranscriptProblem(0, role, f"the hello does not parse: {exc}") from None
        if manifest is None:  # pragma: no cover - set at message 0
            raise TranscriptProblem(i, role, "no manifest")
        key = manifest.initiator_key if role == "initiator" else manifest.responder_key
        if header.sender_key != key or header.session_id != manifest.session_id:
            raise TranscriptProblem(i, role, f"message {i} names another key or session than the manifest")
        if not PublicIdentity(key).verify(msg.signature, signed_bytes(msg.signed)):
            raise TranscriptProblem(i, role, f"the signature of message {i} does not verify")
        if header.msg_type == T_ACCEPT:
            try:
                accept = _json(msg)
            except Exception as exc:
                raise TranscriptProblem(i, role, f"the accept does not parse: {exc}") from None
        t.add(data)
        messages.append(msg)
        authors.append(role)
        hashes.append(t.hash)
    if manifest is None or hello is None:  # pragma: no cover - message 0 sets both
        raise TranscriptProblem(0, None, "no hello")
    return Flow(messages, authors, manifest, hello, accept, hashes)
