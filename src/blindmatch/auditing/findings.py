"""The fixed list of audit findings (docs/audit.md, "The audit").

Each finding names the side it concerns, the first message that deviates (its transcript index, or
``None`` when no message is involved), a detail and what the deviation could have gained the side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FINDINGS", "Finding"]

#: code -> what it means. The list is fixed: an audit report holds only these codes.
FINDINGS: dict[str, str] = {
    "package-missing": "the side's audit package was not handed over by the deadline",
    "package-unopenable": "the side's package is signed by it but does not open for the named auditor",
    "transcript-mismatch": "the side's copy of the transcript differs from what its peer received, or does "
    "not verify (signature, chain, order)",
    "commitment-mismatch": "the commitment sent does not open to the package's seed and padded list",
    "dummies-not-dummies": "the committed padded list holds other entries than the seed's dummies",
    "handshake-mismatch": "a handshake value (session id, ephemeral key, declared size, padding rule) is "
    "not the one the committed seed and list give",
    "traffic-keys-mismatch": "the package's traffic keys are not the ones the seed's ephemeral key gives",
    "foreign-scalar": "the side's blinded items are not its committed seed's blinding of any committed "
    "item (per-item or foreign scalars)",
    "set-substituted": "the side blinded some committed items and replaced others: it ran the PSI on "
    "another set than it committed to",
    "dummies-replaced": "the side blinded every committed real item but put other items in place of its "
    "dummies (probing items it did not commit to)",
    "forged-comparison-hashes": "the responder's comparison hashes are not its honest re-blinding of the "
    "request it received",
    "false-confirm": "the initiator's confirm is not its honest answer to the response it received",
    "message-mismatch": "a message differs from the honest one for another reason (order, session id, "
    "mode or layout)",
    "record-invalid": "the side's record does not verify, names another session, or contradicts the "
    "transcript or its package",
    "record-claim-mismatch": "the side's record claims another count than an honest re-execution gives",
    "seed-reused": "the side's seed was seen in an earlier audited session",
    "scalar-reused": "blinded elements of the side appeared in an earlier audited session (a reused scalar)",
}


@dataclass(frozen=True)
class Finding:
    """One deviation of one side; ``code`` is a key of :data:`FINDINGS`."""

    code: str
    role: str
    message_index: int | None
    detail: str
    could_gain: str

    def __post_init__(self) -> None:
        if self.code not in FINDINGS:
            raise ValueError(f"unknown finding {self.code!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "role": self.role, "message_index": self.message_index,
                "detail": self.detail, "could_gain": self.could_gain}  # fmt: skip
