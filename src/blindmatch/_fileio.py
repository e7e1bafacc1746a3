"""Small file helpers shared by the CLI layers: atomic writes with a chosen mode, and careful deletion."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import InvalidParameter

__all__ = ["atomic_write", "remove_quietly", "wipe_and_remove"]


def atomic_write(path: str | Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same folder (created with ``mode``, never wider), are flushed
    to disk, then renamed over ``path``. Failures raise :class:`~blindmatch.InvalidParameter` naming the path.
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InvalidParameter(f"cannot write {p}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        remove_quietly(tmp)
        raise InvalidParameter(f"cannot write {p}: {exc.strerror or exc}") from None
    except BaseException:
        remove_quietly(tmp)
        raise
    return p


def remove_quietly(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def wipe_and_remove(path: str | Path) -> bool:
    """Overwrite a secret file with zeros, flush, and delete it. Returns whether a file was there.

    Overwriting is best effort (journaling and copy-on-write file systems and SSDs may keep old blocks);
    the deletion is what is guaranteed.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        return False
    try:
        with p.open("r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        pass
    remove_quietly(p)
    return True
