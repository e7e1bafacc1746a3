"""One server port for two kinds of session: a party that becomes, on the first frame, the right one.

A :class:`Server` makes its party before the first frame arrives. :class:`DispatchingParty` is that
party for a server that both answers exchanges and published-set queries: it waits for the first frame,
reads its message type (byte 5 of the session header: 1 ``hello`` opens an exchange, 5 ``query`` a
published-set query; docs/sessions.md) and makes the party registered for that type (the default one for
any other type or a frame too short to carry one, which then refuses it as it would anyway), then hands it
that frame and everything after. Until then it expects at most ``first_message_limit`` bytes.

:class:`ResultlessParty` lets a party whose ``result`` is not a
:class:`~blindmatch.session.SessionResult` (a published-set :class:`~blindmatch.published.QuerySession`
or :class:`~blindmatch.published.PublisherSession`) run where a :class:`SessionParty` is expected: its
``result`` is ``None``; the party itself is :attr:`ResultlessParty.party`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..errors import InvalidParameter, LocalProtocolError, RemoteProtocolError
from ..session.channel import MAGIC
from ..session.interface import SessionParty
from ..session.result import SessionResult

__all__ = ["DispatchingParty", "ResultlessParty", "inner_party"]

#: Offset of the message type in a session header (after the magic and the wire version).
TYPE_OFFSET = 5


class _Resultless(Protocol):
    """:class:`SessionParty` but for ``result``."""

    @property
    def role(self) -> str: ...
    @property
    def done(self) -> bool: ...
    @property
    def failed(self) -> bool: ...
    @property
    def peer_authenticated(self) -> bool: ...
    @property
    def max_next_message(self) -> int: ...
    def start(self) -> bytes: ...
    def receive(self, data: bytes) -> bytes | None: ...
    def abort(self, reason: str) -> None: ...
    def record(self) -> dict[str, Any]: ...


class ResultlessParty:
    """``party`` as a :class:`SessionParty` whose ``result`` is always ``None``. ``done`` is true once the
    party ended, successfully or not (``party.done or party.failed``), as :class:`SessionParty` has it: a
    transport never aborts a party that failed (a published-set party's own ``done`` means completed)."""

    def __init__(self, party: _Resultless) -> None:
        self.party = party

    @property
    def role(self) -> str:
        return self.party.role

    @property
    def done(self) -> bool:
        return self.party.done or self.party.failed

    @property
    def failed(self) -> bool:
        return self.party.failed

    @property
    def result(self) -> SessionResult | None:
        return None

    @property
    def peer_authenticated(self) -> bool:
        return self.party.peer_authenticated

    @property
    def max_next_message(self) -> int:
        return self.party.max_next_message

    @property
    def peer_name(self) -> str | None:
        name = getattr(self.party, "peer_name", None)
        return name if isinstance(name, str) else None

    def start(self) -> bytes:
        return self.party.start()

    def receive(self, data: bytes) -> bytes | None:
        return self.party.receive(data)

    def abort(self, reason: str) -> None:
        self.party.abort(reason)

    def record(self) -> dict[str, Any]:
        return self.party.record()


class DispatchingParty:
    """A responder that becomes ``parties[type]()`` (else ``default()``) when the first frame arrives;
    without ``default`` a first message of another type raises :class:`~blindmatch.RemoteProtocolError`.

    ``first_message_limit`` is the longest first frame any of them takes (the transport refuses a longer
    one from its header). Before the first frame the party is not done, not authenticated, and has no
    record; :attr:`inner` is the party made (None before).
    """

    def __init__(
        self,
        parties: Mapping[int, Callable[[], SessionParty]],
        default: Callable[[], SessionParty] | None,
        *,
        first_message_limit: int,
    ) -> None:
        if first_message_limit < 1:
            raise InvalidParameter("first_message_limit must be at least 1")
        self._parties = dict(parties)
        self._default = default
        self._limit = first_message_limit
        self.inner: SessionParty | None = None

    @property
    def role(self) -> str:
        return self.inner.role if self.inner is not None else "responder"

    @property
    def done(self) -> bool:
        return self.inner is not None and self.inner.done

    @property
    def failed(self) -> bool:
        return self.inner is not None and self.inner.failed

    @property
    def result(self) -> SessionResult | None:
        return self.inner.result if self.inner is not None else None

    @property
    def peer_authenticated(self) -> bool:
        return self.inner is not None and self.inner.peer_authenticated

    @property
    def max_next_message(self) -> int:
        return self.inner.max_next_message if self.inner is not None else self._limit

    @property
    def peer_name(self) -> str | None:
        name = getattr(self.inner, "peer_name", None)
        return name if isinstance(name, str) else None

    def start(self) -> bytes:
        raise LocalProtocolError("a server party does not start a session; it answers the first message")

    def receive(self, data: bytes) -> bytes | None:
        if self.inner is None:
            head = bytes(data[: TYPE_OFFSET + 1])
            kind = head[TYPE_OFFSET] if len(head) > TYPE_OFFSET and head[:4] == MAGIC else None
            make = self._parties.get(kind, self._default) if kind is not None else self._default
            if make is None:
                raise RemoteProtocolError("this server does not answer sessions that start with that message")
            self.inner = make()
        return self.inner.receive(data)

    def abort(self, reason: str) -> None:
        if self.inner is None:
            raise LocalProtocolError("no session began: there is nothing to abort")
        self.inner.abort(reason)

    def record(self) -> dict[str, Any]:
        if self.inner is None:
            raise LocalProtocolError("no session began: there is no record")
        return self.inner.record()


def inner_party(party: object) -> object:
    """The party doing the work behind ``party``: through a :class:`DispatchingParty` and a
    :class:`ResultlessParty` (``party`` itself otherwise; None for a dispatcher that made none)."""
    if isinstance(party, DispatchingParty):
        party = party.inner
    if isinstance(party, ResultlessParty):
        return party.party
    return party
