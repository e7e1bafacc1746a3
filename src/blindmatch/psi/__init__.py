"""Private set intersection between two parties who share no key (Curve25519 DH-PSI, sans-I/O).

Items are byte strings; :func:`indicator_item` makes them from canonical indicators, and
:class:`IndicatorItems` holds a set of them (distinct, per kind, with the map back to the indicators). Modes:

* ``intersection``: the initiator learns which of its items are shared; the responder learns only sizes;
* ``mutual``: each side learns which of its own items are shared;
* ``cardinality``: the initiator learns only how many items are shared; the responder only sizes;
* ``mutual-cardinality``: both learn only the number.

See ``docs/protocol.md`` for the messages and what leaks.

Progress: the parties and :func:`run_in_memory` take ``progress=callback``, called as
``callback(stage, done, total)`` once per chunk of work (stages ``"blind own set"``, ``"blind peer set"``,
``"compare"``); see :mod:`blindmatch._progress`. It never changes results or messages; an exception it
raises propagates unchanged and leaves the party failed.

Each party derives every random choice from one 32-byte ``seed``; ``party.save_state()`` and
``Initiator.restore_state(...)`` / ``Responder.restore_state(...)`` carry a party from one step to the next
(``docs/protocol.md``, "Randomness" and "State files").
"""

from __future__ import annotations

from .._progress import STAGES, ProgressCallback
from ..hazmat.group import SUITE_ID, InvalidGroupElement
from ._errors import (
    MalformedMessage,
    ModeNotAllowed,
    PeerTooLarge,
    StateAlreadyUsed,
    StateError,
    UnexpectedMessage,
)
from ._items import IndicatorItems, indicator_item
from ._modes import MODE_SPECS, MODES, Learns, Mode, ModeSpec, mode_spec, mode_table_markdown
from ._party import DEFAULT_MAX_PEER_ITEMS, Initiator, PsiResult, Responder, run_in_memory
from ._wire import confirm_size, request_size, response_size

__all__ = [
    "DEFAULT_MAX_PEER_ITEMS",
    "MODES",
    "MODE_SPECS",
    "STAGES",
    "SUITE_ID",
    "IndicatorItems",
    "Initiator",
    "InvalidGroupElement",
    "Learns",
    "MalformedMessage",
    "Mode",
    "ModeNotAllowed",
    "ModeSpec",
    "PeerTooLarge",
    "ProgressCallback",
    "PsiResult",
    "Responder",
    "StateAlreadyUsed",
    "StateError",
    "UnexpectedMessage",
    "confirm_size",
    "indicator_item",
    "mode_spec",
    "mode_table_markdown",
    "request_size",
    "response_size",
    "run_in_memory",
]
