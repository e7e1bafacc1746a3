"""Message files (what one lab sends the other by any means) and state files (what a party keeps between
steps of a file-based exchange, including secret scalars).

* Message files are written atomically (a reader never sees half a file) and read with a size limit.
* State files are created with mode 0600, refused when readable by others, and overwritten then deleted
  when the exchange ends or fails (:func:`state_guard`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .._fileio import atomic_write, check_private_file, read_capped, wipe_and_remove
from ..errors import FileAccessError

__all__ = [
    "DEFAULT_MAX_MESSAGE",
    "MessageFileError",
    "StateFileError",
    "delete_state",
    "read_message",
    "read_state",
    "state_guard",
    "write_message",
    "write_state",
]

#: Largest message file read by default (bytes).
DEFAULT_MAX_MESSAGE = 1 << 30


class StateFileError(FileAccessError):
    """A state file is missing, already exists, cannot be read or written, or has unsafe permissions
    (a :class:`~blindmatch.LocalError`)."""


class MessageFileError(FileAccessError):
    """A message file cannot be read or written here (a local failure; a received file that is too large
    or malformed is a :class:`~blindmatch.MalformedFile` instead)."""


def write_message(path: str | Path, data: bytes) -> Path:
    """Write a message file atomically (mode 0644: it is meant to be sent); :class:`MessageFileError` if
    it cannot be written."""
    try:
        return atomic_write(path, data, mode=0o644)
    except FileAccessError as exc:
        raise MessageFileError(str(exc)) from exc


def read_message(path: str | Path, *, max_bytes: int = DEFAULT_MAX_MESSAGE) -> bytes:
    """Read a received message file: :class:`MessageFileError` if it cannot be read, a
    :class:`MalformedFile` if it is larger than ``max_bytes``."""
    return read_capped(path, max_bytes, what="message file", read_error=MessageFileError)


def write_state(path: str | Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write a state file with mode 0600. An existing one is refused unless ``overwrite``
    (it may belong to an exchange still in progress)."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise StateFileError(f"{p} already exists (an exchange in progress?); finish it or delete the file")
    try:
        return atomic_write(p, data, mode=0o600)
    except FileAccessError as exc:
        raise StateFileError(str(exc)) from exc


def read_state(path: str | Path, *, max_bytes: int = DEFAULT_MAX_MESSAGE) -> bytes:
    """Read a state file, refusing one that others can read or write (as ssh does for keys) and a symbolic
    link (the next step would replace the link by a file and leave the secret target behind, unwiped)."""
    p = Path(path)
    if check_private_file(p, what="state file", error=StateFileError) is None:
        raise StateFileError(f"state file {p} not found (already finished, or failed and deleted?)")
    return read_capped(p, max_bytes, what="state file", read_error=StateFileError)


def delete_state(path: str | Path) -> bool:
    """Overwrite and delete a state file; returns whether there was one."""
    return wipe_and_remove(path)


@contextmanager
def state_guard(path: str | Path, *, keep_on_success: bool = False) -> Iterator[Path]:
    """Delete the state file at ``path`` when the block fails (any exception), and also when it succeeds
    unless ``keep_on_success`` (a step that hands the state on to the next one)."""
    p = Path(path)
    try:
        yield p
    except BaseException:
        wipe_and_remove(p)
        raise
    if not keep_on_success:
        wipe_and_remove(p)
