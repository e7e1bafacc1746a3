"""The four PSI modes, specified once: wire code, what each side learns, confirm message, permutation.

Every other layer (the PSI parties, the session manifest and parties, the CLI, the docs' tables) reads
these specs instead of testing mode names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidParameter

__all__ = ["MODES", "MODE_SPECS", "Learns", "Mode", "ModeSpec", "mode_spec", "mode_table_markdown"]

Mode = Literal["intersection", "mutual", "cardinality", "mutual-cardinality"]
#: What one side learns: which of its own items are shared, only their number, or nothing.
Learns = Literal["intersection", "count", "nothing"]


@dataclass(frozen=True)
class ModeSpec:
    """One PSI mode.

    * ``code``: the mode byte in every PSI message header;
    * ``initiator_learns`` / ``responder_learns``: what each side learns besides the sizes;
    * ``confirm``: whether the initiator sends message 3 (the responder learns something only then);
    * ``permuted``: whether comparison hashes are sent sorted (by hash value) instead of aligned with the
      peer's order, so that only their number can be learned.
    """

    name: Mode
    code: int
    initiator_learns: Learns
    responder_learns: Learns
    confirm: bool
    permuted: bool

    def learns(self, role: str) -> Learns:
        """What ``role`` (``"initiator"`` or ``"responder"``) learns in this mode."""
        if role == "initiator":
            return self.initiator_learns
        if role == "responder":
            return self.responder_learns
        raise InvalidParameter("role must be 'initiator' or 'responder'")

    @property
    def messages(self) -> int:
        """Number of PSI messages: 2, or 3 with a confirm."""
        return 3 if self.confirm else 2


MODE_SPECS: dict[str, ModeSpec] = {
    s.name: s
    for s in (
        ModeSpec("intersection", 1, "intersection", "nothing", confirm=False, permuted=False),
        ModeSpec("mutual", 2, "intersection", "intersection", confirm=True, permuted=False),
        ModeSpec("cardinality", 3, "count", "nothing", confirm=False, permuted=True),
        ModeSpec("mutual-cardinality", 4, "count", "count", confirm=True, permuted=True),
    )
}
MODES: tuple[Mode, ...] = tuple(s.name for s in MODE_SPECS.values())


def mode_spec(mode: str) -> ModeSpec:
    """The spec of ``mode``; :class:`~blindmatch.InvalidParameter` for an unknown name."""
    spec = MODE_SPECS.get(mode) if isinstance(mode, str) else None
    if spec is None:
        raise InvalidParameter(f"unknown PSI mode; expected one of {', '.join(MODES)}")
    return spec


def mode_table_markdown() -> str:
    """The mode specs as the Markdown table ``docs/protocol.md`` shows (a test keeps the two identical)."""
    yes_no = {True: "yes", False: "no"}
    head = ("mode", "wire code", "initiator learns", "responder learns", "confirm (message 3)",
            "answer sorted by hash")  # fmt: skip
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in MODE_SPECS.values():
        rows.append(
            f"| `{s.name}` | {s.code} | {s.initiator_learns} | {s.responder_learns} | {yes_no[s.confirm]} "
            f"| {yes_no[s.permuted]} |"
        )
    return "\n".join(rows)
