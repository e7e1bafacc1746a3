"""The steps ledger of the file flow: which message each step of each exchange took.

A state file is used once: after a step it is replaced by the next one. An *old copy* of it (a backup, a
copy made before a step) could still be restored and fed a different message for a step already taken;
for the initiator that would evaluate its secret scalar a second time on elements the peer chose, which
lets the peer test guesses against the initiator's set. The ledger, a small file beside the state files
(``.blindmatch-steps`` in the state file's folder, mode 600), records a keyed digest of each message taken,
outside the state file, so restoring a state file does not restore it: a different message for a step
already taken is refused before anything is computed. It holds no seed, no message and no indicator: each
line is ``HMAC(seed-derived key, step) -> HMAC(seed-derived key, message)``. Restoring the whole folder
from a backup restores the ledger too; keep state files out of backups (``docs/cli.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from .._derive import derive_key
from .._fileio import atomic_write, read_capped
from ..errors import FileAccessError, MalformedFile
from .exitcodes import CliError, ExitCode

__all__ = ["LEDGER_NAME", "StepLedger"]

LEDGER_NAME = ".blindmatch-steps"
_LABEL = b"blindmatch/cli/v1 steps ledger"
_MAX_ENTRIES = 4096  # the oldest are dropped beyond this (about a thousand exchanges)
_MAX_BYTES = 1 << 20


class StepLedger:
    """The ledger beside ``state_path``."""

    def __init__(self, state_path: Path) -> None:
        self._path = state_path.resolve().parent / LEDGER_NAME

    def _load(self) -> dict[str, str]:
        if not self._path.exists():
            return {}
        try:
            doc = json.loads(read_capped(self._path, _MAX_BYTES, what="steps ledger"))
            if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
                raise ValueError("not a steps ledger")
        except (MalformedFile, FileAccessError, ValueError, RecursionError) as exc:
            raise CliError(ExitCode.LOCAL, f"{self._path}: unreadable steps ledger ({exc})") from None
        return {str(k): v for k, v in doc.items()}

    @staticmethod
    def _entry(seed: bytes, seq: int, message: bytes) -> tuple[str, str]:
        key = derive_key(seed, _LABEL)
        step = hmac.new(key, b"step" + seq.to_bytes(8, "big"), hashlib.sha256).hexdigest()[:32]
        return step, hmac.new(key, b"message" + message, hashlib.sha256).hexdigest()[:32]

    def check(self, seed: bytes, seq: int, message: bytes) -> None:
        """Refuse ``message`` if this exchange's step ``seq`` already took another one."""
        step, digest = self._entry(seed, seq, message)
        taken = self._load().get(step)
        if taken is not None and not hmac.compare_digest(taken, digest):
            raise CliError(
                ExitCode.LOCAL,
                f"this exchange already took a different message {seq} (was the state file restored from an "
                "old copy?): refused, so that no secret is used twice; give the exchange up with "
                "`blindmatch psi abort`",
            )

    def record(self, seed: bytes, seq: int, message: bytes) -> None:
        """Remember that step ``seq`` of this exchange took ``message`` (before its answer is written)."""
        step, digest = self._entry(seed, seq, message)
        entries = self._load()
        entries.pop(step, None)
        entries[step] = digest
        while len(entries) > _MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        try:
            atomic_write(self._path, json.dumps(entries).encode("ascii"), mode=0o600)
        except FileAccessError as exc:
            raise CliError(ExitCode.LOCAL, f"cannot record the step: {exc}") from None
