"""The host's publication log: one public, append-only list of file hashes, so that a publisher cannot show
different files to different queriers (docs/published-sets.md).

The log is a text file of lines, each the canonical JSON of one entry, hash-chained::

    {"index": i, "prev": SHA-256 of line i-1 (hex; 64 zeros for the first), "publisher": key hex,
     "epoch": ..., "sequence": n, "type": "base"|"delta"|"withdrawal", "file_id": hex, "base": hex,
     "sha256": SHA-256 of the whole file (hex), "added": Unix seconds}

The host needs no key: it appends (:func:`append_to_log`) after checking the file's signature, and refuses a
second file at a place (publisher, epoch, sequence) already taken. A querier checks every file it uses
against the log (:meth:`PublicationLog.check_file`: exactly one entry at the file's place, with the file's
hash) and that the log it sees now extends the one it saw before (:meth:`PublicationLog.check_extends`,
with the head and length it kept), so a host that rewrites history, or shows two queriers two logs that
later meet, is caught. A host that forks the log for good (two queriers who never compare heads) is not:
queriers should compare heads out of band now and then, as for any transparency log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._strictjson import object_without_duplicates
from ..errors import InvalidParameter
from ..session._canonjson import canonical_json
from .errors import LogMismatch
from .file import FILE_TYPES, PublishedFile, is_epoch_name

__all__ = ["EMPTY_HEAD", "LogEntry", "PublicationLog", "append_to_log"]

EMPTY_HEAD = bytes(32)
_MEMBERS = frozenset(
    {"index", "prev", "publisher", "epoch", "sequence", "type", "file_id", "base", "sha256", "added"}
)
MAX_LOG_ENTRIES = 1 << 20


@dataclass(frozen=True)
class LogEntry:
    index: int
    publisher: bytes
    epoch: str
    sequence: int
    type: str
    file_id: bytes
    base: bytes
    sha256: bytes
    added: int

    @property
    def place(self) -> tuple[bytes, str, int]:
        return (self.publisher, self.epoch, self.sequence)


def _hex(v: Any, nbytes: int) -> bytes:
    if not isinstance(v, str) or len(v) != 2 * nbytes or any(c not in "0123456789abcdef" for c in v):
        raise ValueError("lowercase hex of the right length")
    return bytes.fromhex(v)


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError("a non-negative integer")
    return v


def _entry(doc: Any, index: int, prev: bytes) -> LogEntry:
    """One line's entry: every member of its one type and encoding (lowercase hex, integers, a printable
    epoch, a known file type), chained to the line before."""
    bad = LogMismatch(f"log line {index + 1} is not a well-formed entry")
    if not isinstance(doc, dict) or set(doc) != _MEMBERS or doc["index"] != index:
        raise bad
    try:
        chained = hmac.compare_digest(_hex(doc["prev"], 32), prev)
        epoch, ftype = doc["epoch"], doc["type"]
        if not is_epoch_name(epoch):
            raise ValueError("epoch")
        if ftype not in FILE_TYPES:
            raise ValueError("type")
        entry = LogEntry(
            index,
            _hex(doc["publisher"], 32),
            epoch,
            _int(doc["sequence"]),
            ftype,
            _hex(doc["file_id"], 16),
            _hex(doc["base"], 16),
            _hex(doc["sha256"], 32),
            _int(doc["added"]),
        )
    except (TypeError, ValueError):
        raise bad from None
    if not chained:
        raise LogMismatch(f"log line {index + 1} does not chain to the line before (the log was rewritten)")
    return entry


class PublicationLog:
    """A parsed log whose chain and places have been checked (:meth:`from_bytes`)."""

    def __init__(self, entries: list[LogEntry], heads: list[bytes]) -> None:
        self.entries = entries
        self._heads = heads  # the head after each entry

    @property
    def head(self) -> bytes:
        """SHA-256 of the last line (:data:`EMPTY_HEAD` for an empty log): keep it with :attr:`length`."""
        return self._heads[-1] if self._heads else EMPTY_HEAD

    @property
    def length(self) -> int:
        return len(self.entries)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_entries: int = MAX_LOG_ENTRIES) -> PublicationLog:
        """Parse and check ``data``: every line canonical JSON, chained, indexes 0, 1, ...; each place
        taken once. Raises :class:`LogMismatch`."""
        if data and not data.endswith(b"\n"):
            raise LogMismatch("the log does not end with a newline (truncated)")
        lines = data.split(b"\n")[:-1] if data else []
        if len(lines) > max_entries:
            raise LogMismatch(f"the log has more than {max_entries} entries")
        entries: list[LogEntry] = []
        heads: list[bytes] = []
        places: set[tuple[bytes, str, int]] = set()
        head = EMPTY_HEAD
        for i, line in enumerate(lines):
            try:
                doc = json.loads(line.decode("ascii"), object_pairs_hook=object_without_duplicates)
                if canonical_json(doc) != line:
                    raise ValueError
            except (ValueError, UnicodeDecodeError, InvalidParameter, RecursionError):
                raise LogMismatch(f"log line {i + 1} is not canonical JSON") from None
            entry = _entry(doc, i, head)
            if entry.place in places:
                raise LogMismatch(
                    f"log line {i + 1} takes a place (publisher, epoch, sequence) already taken"
                )
            places.add(entry.place)
            entries.append(entry)
            head = hashlib.sha256(line).digest()
            heads.append(head)
        return cls(entries, heads)

    def check_file(self, f: PublishedFile) -> LogEntry:
        """The one entry at ``f``'s place, if it describes ``f`` (hash, id, type, base); else
        :class:`LogMismatch`."""
        place = (f.publisher.raw, f.epoch, f.sequence)
        found = [e for e in self.entries if e.place == place]
        if not found:
            raise LogMismatch(f"the log has no entry for {f.type} file {f.sequence} of epoch {f.epoch!r}")
        e = found[0]
        if not hmac.compare_digest(e.sha256, f.sha256) or (e.file_id, e.type, e.base) != (
            f.file_id,
            f.type,
            f.base_id,
        ):
            raise LogMismatch(
                f"the log holds another file for {f.type} {f.sequence} of epoch {f.epoch!r}: the publisher "
                "may be showing different files to different queriers"
            )
        return e

    def check_files(self, files: Sequence[PublishedFile]) -> None:
        """Every file checked (:meth:`check_file`), and the log lists no other file of their publisher and
        epoch: a host that holds back a later delta or withdrawal is caught (:class:`LogMismatch`)."""
        if not files:
            raise InvalidParameter("no files to check")
        for f in files:
            self.check_file(f)
        ours = {f.sequence for f in files}
        publisher, epoch = files[0].publisher.raw, files[0].epoch
        missing = [
            e for e in self.entries if (e.publisher, e.epoch) == (publisher, epoch) and e.sequence not in ours
        ]
        if missing:
            raise LogMismatch(
                f"the log lists {len(missing)} more file(s) of epoch {epoch!r} than were given (a delta or "
                "withdrawal held back?): fetch them all"
            )

    def check_extends(self, head: bytes, length: int) -> None:
        """:class:`LogMismatch` unless this log's first ``length`` entries end at ``head`` (the log seen
        before is a prefix of this one)."""
        if length > self.length:
            raise LogMismatch("the log is shorter than the one seen before (entries were removed)")
        if length < 0:
            raise InvalidParameter("length must be >= 0")
        seen = self._heads[length - 1] if length else EMPTY_HEAD
        if not hmac.compare_digest(seen, head):
            raise LogMismatch("the log does not extend the one seen before (history was rewritten)")


def append_to_log(data: bytes, f: PublishedFile, now: int) -> bytes:
    """The log ``data`` with ``f`` appended (the host's step: ``f`` was parsed and its signature checked by
    :meth:`PublishedFile.from_bytes`). :class:`LogMismatch` if the place is taken."""
    log = PublicationLog.from_bytes(data)
    if any(e.place == (f.publisher.raw, f.epoch, f.sequence) for e in log.entries):
        raise LogMismatch(f"the log already holds {f.type} file {f.sequence} of epoch {f.epoch!r}")
    doc = {
        "index": log.length,
        "prev": log.head.hex(),
        "publisher": f.publisher.raw.hex(),
        "epoch": f.epoch,
        "sequence": f.sequence,
        "type": f.type,
        "file_id": f.file_id.hex(),
        "base": f.base_id.hex(),
        "sha256": f.sha256.hex(),
        "added": int(now),
    }
    return data + canonical_json(doc) + b"\n"
