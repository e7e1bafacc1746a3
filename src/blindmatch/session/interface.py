""":class:`SessionParty`: the one interface transports (``blindmatch.transport``) use to drive a party."""

from __future__ import annotations

from typing import Any, Protocol

from .result import SessionResult

__all__ = ["SessionParty"]


class SessionParty(Protocol):
    """What a transport may use of a session party; :class:`InitiatorSession` and
    :class:`ResponderSession` both satisfy it (``mypy --strict`` checks this).

    ``start()`` gives the first message (a responder raises ``LocalProtocolError``: it waits for the
    hello); ``receive(data)`` the reply to send, if any. ``max_next_message`` is the longest message the
    party can take next (0: none), so a transport can refuse a longer frame from its header.
    ``peer_authenticated`` turns true once a message of the peer passed its signature and freshness checks
    (a server counts a session from then on). ``abort(reason)`` ends a session that has not ended;
    ``record()`` is the signed disclosure record once it ended.
    """

    @property
    def role(self) -> str: ...
    @property
    def done(self) -> bool: ...
    @property
    def failed(self) -> bool: ...
    @property
    def result(self) -> SessionResult | None: ...
    @property
    def peer_authenticated(self) -> bool: ...
    @property
    def max_next_message(self) -> int: ...
    def start(self) -> bytes: ...
    def receive(self, data: bytes) -> bytes | None: ...
    def abort(self, reason: str) -> None: ...
    def record(self) -> dict[str, Any]: ...
