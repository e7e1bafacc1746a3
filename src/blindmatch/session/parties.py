"""Sans-I/O session parties: :class:`InitiatorSession` and :class:`ResponderSession`.

Both have the same driver interface (:class:`SessionParty`), so a transport (memory, files, TCP) only
moves bytes::

    out = initiator.start()                  # initiator only: the hello
    while out is not None:
        out = peer.receive(out)              # the reply to send back, or None
        ...                                  # (alternate between the two parties)
    party.done, party.result, party.record()

Message flow (docs/sessions.md)::

    seq 0  I -> R  hello   signed, clear: manifest, ephemeral X25519 key, initiator's padded size
    seq 1  R -> I  accept  signed, clear: ephemeral X25519 key, responder's padded size
           R -> I  refuse  signed, clear: reason (instead of accept; the session ends)
    seq 2  I -> R  data    signed, encrypted: PSI request
    seq 3  R -> I  data    signed, encrypted: PSI response
    seq 4  I -> R  data    signed, encrypted: PSI confirm (mutual modes only)

The state machine is in ``_states``, the shared machinery in ``_base``, each role in its own module.
"""

from __future__ import annotations

from collections.abc import Callable

from .initiator import InitiatorSession
from .interface import SessionParty
from .responder import ResponderSession
from .result import SessionResult

__all__ = ["InitiatorSession", "ResponderSession", "SessionParty", "SessionResult", "run_session_in_memory"]


def run_session_in_memory(
    initiator: InitiatorSession,
    responder: ResponderSession,
    *,
    tap: Callable[[str, bytes], None] | None = None,
) -> list[bytes]:
    """Run both parties to the end over a perfect in-memory link; return every wire message in order.

    ``tap(direction, message)`` sees each message (``"i2r"`` or ``"r2i"``) before it is delivered.
    Errors propagate from the party that raised them.
    """
    wire: list[bytes] = []
    msg: bytes | None = initiator.start()
    sender: SessionParty = initiator
    while msg is not None:
        wire.append(msg)
        receiver: SessionParty = responder if sender is initiator else initiator
        if tap is not None:
            tap("i2r" if sender is initiator else "r2i", msg)
        msg = receiver.receive(msg)
        sender = receiver
    return wire


# mypy --strict checks that both roles satisfy the transport interface
_I: type[SessionParty] = InitiatorSession
_R: type[SessionParty] = ResponderSession
