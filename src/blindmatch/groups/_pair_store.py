"""What a round keeps per pair under ``<state_dir>/pairs/<peer>/`` and how a rerun decides a pair is done.

A completed pair leaves ``report.json`` (its local report), ``record.json`` (my signed disclosure record)
and, written last, ``pair.json`` (which of my indicators the peer holds, bound to the round, the group
file, the peer's key, my items and the session's transcript hash). A failed attempt leaves only its signed
record, as ``failed-<session>-record.json``. Every file is written atomically with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._fileio import atomic_write
from ..errors import BlindmatchError
from ..indicator_set import IndicatorSet
from ..psi import IndicatorItems
from ..session import InitiatorSession, ResponderSession, verify_record
from ..session.identity import PublicIdentity
from .group_file import Group, GroupLab

__all__ = ["DonePair", "items_digest", "load_done", "pair_dir", "write_done", "write_failed"]

PAIR_FORMAT = "blindmatch-round-pair/1"
_PAIR_KEYS = frozenset(
    {"format", "round", "group", "peer", "peer_key", "items", "transcript_hash", "matched"}
)
_MAX_PAIR_BYTES = 1 << 28

Party = InitiatorSession | ResponderSession


@dataclass(frozen=True)
class DonePair:
    """A completed pair as kept on disk: which of my indicators the peer holds."""

    matched: frozenset[tuple[str, str]]
    transcript_hash: str
    record: Path


def pair_dir(state_dir: Path, peer: str) -> Path:
    return state_dir / "pairs" / peer


def items_digest(items: IndicatorItems) -> str:
    """SHA-256 of my round items (sorted, length-prefixed): a rerun with other inputs reruns every pair."""
    h = hashlib.sha256(b"blindmatch-round-items/v1\x00")
    for it in sorted(items.items):
        h.update(len(it).to_bytes(4, "big") + it)
    return h.hexdigest()


def _dump(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_failed(folder: Path, party: Party) -> Path | None:
    """My signed record of a failed attempt (when the session had begun), kept beside the pair's files."""
    if not party.done:
        return None
    record = party.record()
    sid = str(record.get("session_id") or "none")[:12]
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return atomic_write(folder / f"failed-{sid}-record.json", _dump(record), mode=0o600)


def write_done(
    folder: Path, group: Group, peer: GroupLab, party: Party, iset: IndicatorSet, digest: str, started: float
) -> DonePair:
    """Write a completed pair's report, record and (last) ``pair.json``."""
    result = party.result
    if result is None or result.matched is None:  # pragma: no cover - a completed mutual session
        raise BlindmatchError("the session completed without the matched indicators")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(folder / "report.json", iset.report(result, started=started).to_json(), mode=0o600)
    record_path = atomic_write(folder / "record.json", _dump(party.record()), mode=0o600)
    matched = frozenset((k, c) for k, c in result.matched)
    doc = {
        "format": PAIR_FORMAT,
        "round": group.round,
        "group": group.digest.hex(),
        "peer": peer.name,
        "peer_key": peer.public_key.to_text(),
        "items": digest,
        "transcript_hash": result.transcript_hash.hex(),
        "matched": sorted([k, c] for k, c in matched),
    }
    atomic_write(folder / "pair.json", _dump(doc), mode=0o600)
    return DonePair(matched, result.transcript_hash.hex(), record_path)


def _matched_of(value: object) -> frozenset[tuple[str, str]]:
    if not isinstance(value, list):
        raise ValueError("matched must be a list")
    out = set()
    for e in value:
        if not (isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)):
            raise ValueError("matched entries are [kind, canonical]")
        out.add((e[0], e[1]))
    return frozenset(out)


def load_done(
    folder: Path, group: Group, me: PublicIdentity, peer: GroupLab, digest: str
) -> tuple[DonePair | None, str]:
    """The pair kept in ``folder`` when it completed in this round, with this group file, with this
    peer's key, for my current items, and my signed record of it verifies and says so; else ``None`` and
    why it is run (again)."""
    pair_file, record_file = folder / "pair.json", folder / "record.json"
    if not pair_file.exists():
        return None, "not run yet"
    try:
        if pair_file.stat().st_size > _MAX_PAIR_BYTES:
            return None, "pair.json is too large"
        doc = json.loads(pair_file.read_bytes())
        if not isinstance(doc, dict) or doc.keys() != _PAIR_KEYS or doc["format"] != PAIR_FORMAT:
            return None, "pair.json is not a round pair file"
        want = (group.round, group.digest.hex(), peer.name, peer.public_key.to_text())
        if (doc["round"], doc["group"], doc["peer"], doc["peer_key"]) != want:
            return None, "pair.json belongs to another round, group file or peer key"
        if doc["items"] != digest:
            return None, "our inputs changed since the pair ran"
        th, matched = doc["transcript_hash"], _matched_of(doc["matched"])
        if not isinstance(th, str):
            return None, "pair.json has no transcript hash"
        record = verify_record(record_file.read_bytes(), me, transcript_hash=th)
    except (OSError, ValueError, TypeError, BlindmatchError) as exc:
        return None, f"its kept files do not verify ({type(exc).__name__}: {str(exc)[:120]})"
    reason = _record_mismatch(record, group, peer, len(matched))
    if reason is not None:
        return None, reason
    return DonePair(matched, th, record_file), "completed before"


def _record_mismatch(record: dict[str, Any], group: Group, peer: GroupLab, matched: int) -> str | None:
    if record["outcome"].get("status") != "completed":
        return "its record is not of a completed session"
    if record["peer"].get("public_key") != peer.public_key.to_text():
        return "its record names another peer key"
    if record["purpose"] != group.session_purpose or record["mode"] != group.mode:
        return "its record belongs to another round or group file"
    learned = record["learned"].get(record["role"])
    if not isinstance(learned, dict) or learned.get("count") != matched:
        return "its record counts other matches than pair.json lists"
    return None
