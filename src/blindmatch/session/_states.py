"""The session state machine, as one transition table per role (in the manner of h11's ``_state.py``).

A row ``(state, event) -> (handler, next states)`` says what a party does when ``event`` happens in
``state``: a peer message of that type arrives (``hello``, ``accept``, ``refuse``, ``data``) or the local
caller calls ``start()``. The party runs the handler, which returns one of the listed next states. A
message of a type without a row in the current state is the peer's fault (``OutOfOrder``, raised by the
header checks, which take the expected types from this table); a call without a row, or a call in a
terminal state, is ours (``LocalProtocolError``). ``abort(reason)`` is allowed in every state that is not
terminal and always leads to ``FAILED``; any error raised while handling an event also leads to ``FAILED``.

docs/sessions.md shows these tables; ``tests/test_session_states.py`` checks the docs against
:func:`table_markdown`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from .channel import T_ACCEPT, T_DATA, T_HELLO, T_REFUSE

__all__ = [
    "INITIATOR_TABLE",
    "RESPONDER_TABLE",
    "TERMINAL",
    "Event",
    "SessionState",
    "Transition",
    "message_types",
    "table_markdown",
]


class SessionState(enum.Enum):
    """Where a session party stands; ``party.state``. ``DONE`` and ``FAILED`` are terminal."""

    NEW = "new"  #: initiator before ``start()``
    AWAIT_HELLO = "awaiting hello"  #: responder, before the first message
    AWAIT_ACCEPT = "awaiting accept"  #: initiator, hello sent
    AWAIT_REQUEST = "awaiting request"  #: responder, accept sent
    AWAIT_RESPONSE = "awaiting response"  #: initiator, PSI request sent
    AWAIT_CONFIRM = "awaiting confirm"  #: responder, PSI response sent (mutual modes)
    DONE = "done"  #: completed (or, for the responder, refused)
    FAILED = "failed"  #: an error, a refusal received, or ``abort()``


class Event(enum.Enum):
    """What moves a party: the local ``start()`` call or a peer message of one type."""

    START = "start()"
    HELLO = "hello"
    ACCEPT = "accept"
    REFUSE = "refuse"
    DATA = "data"


#: The wire message type of each message event.
_WIRE_TYPE: Mapping[Event, int] = {
    Event.HELLO: T_HELLO,
    Event.ACCEPT: T_ACCEPT,
    Event.REFUSE: T_REFUSE,
    Event.DATA: T_DATA,
}
EVENT_OF_TYPE: Mapping[int, Event] = {v: k for k, v in _WIRE_TYPE.items()}

TERMINAL = frozenset({SessionState.DONE, SessionState.FAILED})


@dataclass(frozen=True)
class Transition:
    """One row: the party's method that handles the event and the states it may lead to."""

    handler: str
    next: frozenset[SessionState]
    note: str = ""


S = SessionState
_Table = Mapping[tuple[SessionState, Event], Transition]


def _t(handler: str, *nxt: SessionState, note: str = "") -> Transition:
    return Transition(handler, frozenset(nxt), note)


INITIATOR_TABLE: _Table = {
    (S.NEW, Event.START): _t("_on_start", S.AWAIT_ACCEPT, note="sends the hello"),
    (S.AWAIT_ACCEPT, Event.ACCEPT): _t("_on_accept", S.AWAIT_RESPONSE, note="sends the PSI request"),
    (S.AWAIT_ACCEPT, Event.REFUSE): _t("_on_refuse", S.FAILED, note="raises `Refused(reason)`"),
    (S.AWAIT_RESPONSE, Event.DATA): _t(
        "_on_response",
        S.AWAIT_RESPONSE,
        S.DONE,
        note="sends the next PSI request (OT engine), or the PSI confirm (mutual modes) and is done",
    ),
}

RESPONDER_TABLE: _Table = {
    (S.AWAIT_HELLO, Event.HELLO): _t(
        "_on_hello", S.AWAIT_REQUEST, S.DONE, note="sends the accept, or the refuse and is done"
    ),
    (S.AWAIT_REQUEST, Event.DATA): _t(
        "_on_request",
        S.AWAIT_REQUEST,
        S.AWAIT_CONFIRM,
        S.DONE,
        note="sends the PSI response; waits for the next request (OT engine); done unless mutual",
    ),
    (S.AWAIT_CONFIRM, Event.DATA): _t("_on_confirm", S.DONE, note="sends nothing"),
}


def message_types(table: _Table, state: SessionState) -> tuple[int, ...]:
    """The wire types a party accepts in ``state`` (empty: it expects no message)."""
    return tuple(_WIRE_TYPE[e] for (s, e) in table if s is state and e is not Event.START)


def table_markdown(table: _Table) -> str:
    """The table as the Markdown that docs/sessions.md shows (one line per row)."""
    lines = ["| state | event | handler | next state | what happens |", "|---|---|---|---|---|"]
    for (state, event), move in table.items():
        nxt = " or ".join(f"`{s.name}`" for s in sorted(move.next, key=list(S).index))
        lines.append(f"| `{state.name}` | {event.value} | `{move.handler}` | {nxt} | {move.note} |")
    return "\n".join(lines)
