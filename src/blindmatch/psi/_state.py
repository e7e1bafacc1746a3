"""The PSI parties' state machine (one table for both roles) and the saved-state format.

State table, ``(state, call) -> (action, next state)``. ``run`` does the step's own crypto; ``replay``
is allowed only for the call that consumed the last peer message: a byte-identical message gets the same
output again (no new crypto), any other raises :class:`StateAlreadyUsed` (a second evaluation under the
same scalar would give the peer an oracle). Every pair not in the table raises
:class:`~blindmatch.errors.LocalProtocolError`::

    initiator:  ready          --start()--->        await-response
                await-response --finish(m2)-->      done             (m3 returned in mutual modes)
                done           --finish(m2)-->      done             replay
    responder:  ready          --respond(m1)-->     await-confirm    (mutual modes; else done)
                await-confirm  --respond(m1)-->     await-confirm    replay
                await-confirm  --finish(m3)-->      done
                done           --respond/finish-->  done             replay of the last call only

Saved state (``docs/protocol.md``, "State files"), all integers big-endian::

    magic b"BMPSTATE" | format version u8 (1) | role u8 (1 initiator, 2 responder) | state u8 | mode u8
    | params hash 32 | seed 32 | items HMAC 32 | item count u32
    | messages: count u8, then (u32 length || bytes) each      -- what the next step needs
    | last call u8 (0 none, 1 start, 2 respond, 3 finish) | SHA-256 of the message it consumed 32
    | output u8 (0 none, 1 inline: u32 length || bytes, 2 the last message held)
    | result u8 (0 none, 1 present): count u32 (2^32-1 = none) | own size u32 | peer size u32
      | transcript hash 32 | matched u8 (0 none, 1 bitmap over the sorted distinct items, ceil(n/8) bytes)
    | SHA-256 of everything before (32)

No item value is ever written. The trailing SHA-256 detects corruption before anything is parsed; it is
not a MAC (whoever can write the file can read the seed in it): protect the file like a private key.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from enum import Enum

from ..hazmat.group import SUITE_ID
from ._errors import StateError

__all__ = [
    "CALLS",
    "STATE_MAGIC",
    "STATE_VERSION",
    "TRANSITIONS",
    "PartyState",
    "SavedResult",
    "decode_state",
    "encode_state",
    "params_hash",
]

STATE_MAGIC = b"BMPSTATE"
STATE_VERSION = 1
_PARAMS_TAG = b"blindmatch/psi/v1/state-params"
_NO_COUNT = 0xFFFFFFFF
_U32 = struct.Struct(">I")


class _State(Enum):
    READY = "ready"
    AWAIT_RESPONSE = "await-response"
    AWAIT_CONFIRM = "await-confirm"
    DONE = "done"
    FAILED = "failed"


RUN = "run"
REPLAY = "replay"
TRANSITIONS: dict[tuple[_State, str], tuple[str, _State]] = {
    (_State.READY, "start"): (RUN, _State.AWAIT_RESPONSE),
    (_State.AWAIT_RESPONSE, "finish"): (RUN, _State.DONE),
    (_State.READY, "respond"): (RUN, _State.AWAIT_CONFIRM),  # DONE at once in the one-sided modes
    (_State.AWAIT_CONFIRM, "respond"): (REPLAY, _State.AWAIT_CONFIRM),
    (_State.AWAIT_CONFIRM, "finish"): (RUN, _State.DONE),
    (_State.DONE, "respond"): (REPLAY, _State.DONE),
    (_State.DONE, "finish"): (REPLAY, _State.DONE),
}
CALLS = ("", "start", "respond", "finish")
_STATE_CODES = {
    _State.READY: 0, _State.AWAIT_RESPONSE: 1, _State.AWAIT_CONFIRM: 2, _State.DONE: 3
}  # fmt: skip
_STATES = {v: k for k, v in _STATE_CODES.items()}
_ROLES = {"initiator": 1, "responder": 2}
_ROLE_NAMES = {v: k for k, v in _ROLES.items()}


def params_hash(role: str, mode_codes: list[int], max_peer_items: int) -> bytes:
    """SHA-256 of the parameters a state is bound to: role, suite, mode (the initiator's) or allowed modes
    (the responder's, sorted), and the cap on the peer's items."""
    body = b"".join((
        _PARAMS_TAG, bytes([_ROLES[role], len(SUITE_ID)]), SUITE_ID,
        bytes([len(mode_codes), *sorted(mode_codes)]), max_peer_items.to_bytes(8, "big"),
    ))  # fmt: skip
    return hashlib.sha256(body).digest()


@dataclass(frozen=True)
class SavedResult:
    count: int | None
    own_size: int
    peer_size: int
    transcript_hash: bytes
    matched_bitmap: bytes | None


@dataclass(frozen=True)
class PartyState:
    """One saved party (the decoded form of a state blob)."""

    role: str
    state: _State
    mode_code: int
    params_hash: bytes
    seed: bytes = field(repr=False)  # the party's secret: never in a repr
    items_mac: bytes
    n_items: int
    messages: tuple[bytes, ...]
    last_call: str
    consumed: bytes
    output: bytes | None
    result: SavedResult | None


def _lv(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def encode_state(s: PartyState) -> bytes:
    parts = [
        STATE_MAGIC, bytes([STATE_VERSION, _ROLES[s.role], _STATE_CODES[s.state], s.mode_code]),
        s.params_hash, s.seed, s.items_mac, _U32.pack(s.n_items), bytes([len(s.messages)]),
        *(_lv(m) for m in s.messages), bytes([CALLS.index(s.last_call)]), s.consumed or bytes(32),
    ]  # fmt: skip
    if s.output is None:
        parts.append(b"\0")
    elif s.messages and s.output == s.messages[-1]:
        parts.append(b"\2")
    else:
        parts += [b"\1", _lv(s.output)]
    r = s.result
    if r is None:
        parts.append(b"\0")
    else:
        count = _NO_COUNT if r.count is None else r.count
        parts += [b"\1", _U32.pack(count), _U32.pack(r.own_size), _U32.pack(r.peer_size), r.transcript_hash]
        parts.append(b"\0" if r.matched_bitmap is None else b"\1" + r.matched_bitmap)
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.off = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.off + n > len(self.data):
            raise StateError("saved PSI state: truncated")
        out = self.data[self.off : self.off + n]
        self.off += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(4))[0]
        return value

    def choice(self, table: dict[int, str] | tuple[str, ...], what: str) -> str:
        code = self.u8()
        names = dict(enumerate(table)) if isinstance(table, tuple) else table
        if code not in names:
            raise StateError(f"saved PSI state: unknown {what}")
        return names[code]


def decode_state(data: object) -> PartyState:
    """Parse a state blob; every problem raises :class:`StateError` (checksum first, then the fields)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StateError("a saved PSI state is bytes")
    raw = bytes(data)
    if len(raw) < len(STATE_MAGIC) + 32 or raw[: len(STATE_MAGIC)] != STATE_MAGIC:
        raise StateError("not a saved blindmatch PSI state")
    body, check = raw[:-32], raw[-32:]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), check):
        raise StateError("saved PSI state: checksum mismatch (corrupt or modified)")
    r = _Reader(body)
    r.take(len(STATE_MAGIC))
    if r.u8() != STATE_VERSION:
        raise StateError("saved PSI state: unsupported format version")
    role = r.choice(_ROLE_NAMES, "role")
    code = r.u8()
    if code not in _STATES:
        raise StateError("saved PSI state: unknown state")
    mode_code = r.u8()
    fixed = (r.take(32), r.take(32), r.take(32), r.u32())
    messages = tuple(r.take(r.u32()) for _ in range(r.u8()))
    last_call = r.choice(CALLS, "last call")
    consumed = r.take(32)
    output = _read_output(r, messages)
    result = _read_result(r, fixed[3])
    if r.off != len(body):
        raise StateError("saved PSI state: trailing bytes")
    return PartyState(role, _STATES[code], mode_code, *fixed, messages, last_call, consumed, output, result)


def _read_output(r: _Reader, messages: tuple[bytes, ...]) -> bytes | None:
    kind = r.u8()
    if kind == 0:
        return None
    if kind == 1:
        return r.take(r.u32())
    if kind == 2 and messages:
        return messages[-1]
    raise StateError("saved PSI state: bad output field")


def _read_result(r: _Reader, n_items: int) -> SavedResult | None:
    flag = r.u8()
    if flag == 0:
        return None
    if flag != 1:
        raise StateError("saved PSI state: bad result field")
    count = r.u32()
    own, peer, th = r.u32(), r.u32(), r.take(32)
    has_bitmap = r.u8()
    if has_bitmap not in (0, 1):
        raise StateError("saved PSI state: bad result field")
    bitmap = r.take((n_items + 7) // 8) if has_bitmap else None
    return SavedResult(None if count == _NO_COUNT else count, own, peer, th, bitmap)
