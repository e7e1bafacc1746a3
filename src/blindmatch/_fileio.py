"""Small file helpers shared by the CLI layers: atomic writes with a chosen mode, and careful deletion."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from .errors import BlindmatchError, FileAccessError, MalformedFile

__all__ = [
    "atomic_write",
    "check_private_file",
    "check_regular_target",
    "read_capped",
    "remove_quietly",
    "wipe_and_remove",
]


def atomic_write(path: str | Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same folder (created with ``mode``, never wider), are flushed
    to disk, then renamed over ``path``. A ``path`` that is not a regular file (a link, device, FIFO or
    folder) is refused, never replaced. Failures raise :class:`~blindmatch.FileAccessError` (an
    ``InvalidParameter``) naming the path.
    """
    p = Path(path)
    check_regular_target(p)
    folder = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise FileAccessError(f"cannot write {p}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        check_regular_target(p)
        os.replace(tmp, p)
    except OSError as exc:
        remove_quietly(tmp)
        raise FileAccessError(f"cannot write {p}: {exc.strerror or exc}") from None
    except BaseException:
        remove_quietly(tmp)
        raise
    return p


def check_regular_target(path: str | Path) -> None:
    """Refuse to replace what is not a regular file: a symbolic link, a device node, a FIFO, a socket or a
    folder (:class:`~blindmatch.FileAccessError`). A path that does not exist yet is fine."""
    p = Path(path)
    try:
        st = p.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FileAccessError(f"cannot write {p}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a device, FIFO or socket"
        if stat.S_ISLNK(st.st_mode):
            what = "a symbolic link"
        elif stat.S_ISDIR(st.st_mode):
            what = "a folder"
        raise FileAccessError(f"{p} is not a regular file ({what}): it is not replaced")


def check_private_file(
    path: str | Path, *, what: str = "file", error: type[BlindmatchError] = FileAccessError
) -> os.stat_result | None:
    """Refuse a secret local file (a state file, the store) unless it is this user's own private regular file.

    Raises ``error`` for a symbolic link (never followed: a later rewrite would leave the target behind),
    anything but a regular file, and (on POSIX) a file owned by another user or open to other users, as
    ssh does for keys. Returns the file's ``lstat``, or None when there is no such file.
    """
    p = Path(path)
    try:
        st = p.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"cannot read {p}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise error(f"{p} is a symbolic link; give the {what}'s own path")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p} is not a regular file")
    if os.name == "posix" and st.st_uid != os.geteuid():
        raise error(f"{p} is owned by another user; a {what} must be this user's own")
    if os.name == "posix" and st.st_mode & 0o077:
        raise error(f"{p} is accessible by other users (mode {st.st_mode & 0o777:o}); expected 600")
    return st


def read_capped(
    path: str | Path,
    max_bytes: int,
    *,
    what: str = "file",
    read_error: type[BlindmatchError] = FileAccessError,
) -> bytes:
    """Read a whole file, refusing (not truncating) one larger than ``max_bytes``.

    A file that cannot be read raises ``read_error`` naming the path; one that is too large (it came from
    elsewhere, so it may be hostile) raises :class:`~blindmatch.MalformedFile`. Never reads more than
    ``max_bytes + 1`` bytes.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise read_error(f"cannot read {p}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise MalformedFile(f"{p}: {what} larger than the limit of {max_bytes} bytes")
    return data


def remove_quietly(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def wipe_and_remove(path: str | Path) -> bool:
    """Overwrite a secret file with zeros, flush, and delete it. Returns whether a file was there.

    Overwriting is best effort (journaling and copy-on-write file systems and SSDs may keep old blocks);
    the deletion is what is guaranteed. A symbolic link is removed, never followed: its target is not
    overwritten.
    """
    p = Path(path)
    try:
        st = p.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISREG(st.st_mode):
        try:
            fd = os.open(p, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"\0" * st.st_size)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            pass
    remove_quietly(p)
    return True
