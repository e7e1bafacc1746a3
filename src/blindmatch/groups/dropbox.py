"""A shared folder as the over-threshold run's transport (docs/groups.md, "Running it"): the forum offers a
folder (a mounted share, an SFTP drop) that the labs and the coordinator poll.

Layout: ``to-coordinator/`` receives every lab's messages, ``to-lab-<i>/`` what the coordinator delivers to
lab ``i``. A file's name is its sender, its type and its place in the run (a hop's owner and step), so
writing is idempotent: a party that is restarted with the same run seed recomputes the same messages
(signatures are deterministic) and finds them already there; one that would write *other* bytes under an
existing name stops. A file that is not a signed message of this run from one of its parties is passed
over (anyone who can write to the folder could drop it); an authentic message that breaks the protocol
ends the party's run. Files are written under a dot-name and renamed, so a reader never sees half a
message. Messages are signed, not encrypted: the folder must be readable only by the forum and each lab's
own inbox by that lab (an eavesdropper on it learns what the coordinator learns).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .._fileio import atomic_write
from ..errors import LocalError, RemoteError
from . import threshold_wire as wire
from .threshold_run import Outgoing, ThresholdCoordinator, ThresholdLab

__all__ = ["DropboxTimeout", "run_coordinator", "run_lab"]

_MAX_FILE = wire.MAX_MESSAGE


class DropboxTimeout(RemoteError):
    """Nothing came for too long: a lab (or the coordinator) dropped out. Nobody gets a partial result."""


def _inbox(folder: Path, recipient: int) -> Path:
    return folder / ("to-coordinator" if recipient == wire.COORDINATOR else f"to-lab-{recipient}")


def _name(data: bytes) -> str:
    """``sender-type-slot.msg``: one name per message the protocol has (a hop's slot is its owner and step),
    so a party that would send other bytes in the same place is caught, not added."""
    head = wire.peek(data)
    slot = f"{head.recipient:03d}"
    if head.kind == wire.KIND_HOP:
        owner, step = wire.hop_place(head.body)
        slot = f"{owner:03d}.{step}"
    return f"{head.sender:03d}-{head.kind}-{slot}.msg"


def _deliver(folder: Path, out: Outgoing) -> None:
    for recipient, data in out:
        box = _inbox(folder, recipient)
        box.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = box / _name(data)
        if path.exists():
            if path.read_bytes() != data:
                raise LocalError(f"{path} holds another message under this name: was the run's seed changed?")
            continue
        atomic_write(path, data, mode=0o600)


def _new_files(box: Path, seen: set[str]) -> list[Path]:
    if not box.is_dir():
        return []
    found = sorted(p for p in box.iterdir() if p.name.endswith(".msg") and not p.name.startswith("."))
    return [p for p in found if p.name not in seen]


def _read(path: Path) -> bytes:
    if path.is_symlink() or not path.is_file():
        raise RemoteError(f"{path} is not a plain file")
    if path.stat().st_size > _MAX_FILE:
        raise RemoteError(f"{path} is larger than any run message")
    return path.read_bytes()


def _poll(
    folder: Path,
    recipient: int,
    handle: Callable[[bytes], Outgoing],
    finished: Callable[[], bool],
    waiting_for: Callable[[], str],
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    seen: set[str] = set()
    last = clock()
    box = _inbox(folder, recipient)
    while not finished():
        fresh = _new_files(box, seen)
        for path in fresh:
            seen.add(path.name)
            try:
                out = handle(_read(path))
            except wire.UnauthenticatedMessage:
                continue  # not from a party of this run: nothing to do with it (the run goes on)
            _deliver(folder, out)
            if finished():
                return
        if fresh:
            last = clock()
        elif clock() - last > timeout:
            raise DropboxTimeout(f"nothing new in {box} for {timeout:.0f} s; waiting for {waiting_for()}")
        else:
            sleep(interval)


def run_lab(
    lab: ThresholdLab,
    folder: str | os.PathLike[str],
    *,
    timeout: float = 600.0,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[bytes]:
    """Run ``lab`` through ``folder`` until the coordinator's result arrives; our over-threshold items."""
    root = Path(folder)
    _deliver(root, lab.start())
    _poll(root, lab.index, lab.receive, lambda: lab.done, lab.waiting_for, timeout=timeout,
          interval=interval, clock=clock, sleep=sleep)  # fmt: skip
    if lab.results is None:  # pragma: no cover - done implies results
        raise LocalError("the run ended without a result")
    return lab.results


def run_coordinator(
    coordinator: ThresholdCoordinator,
    folder: str | os.PathLike[str],
    *,
    timeout: float = 600.0,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[int, set[int]]:
    """Relay, collect and join through ``folder`` until every lab has its result; the passing slots."""
    root = Path(folder)
    _poll(root, wire.COORDINATOR, coordinator.receive, lambda: coordinator.passed is not None,
          coordinator.waiting_for, timeout=timeout, interval=interval, clock=clock, sleep=sleep)  # fmt: skip
    if coordinator.passed is None:  # pragma: no cover
        raise LocalError("the run ended without a join")
    return coordinator.passed
