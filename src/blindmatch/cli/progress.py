"""Progress display for the command line: a tqdm bar on a terminal, nothing when piped or ``--quiet``.

Library code never draws bars; it takes a callback: ``progress(done, total)`` for reading and
canonicalizing inputs, ``progress(stage, done, total)`` for the PSI work (:mod:`blindmatch._progress`).
:class:`Progress` is the first (call it) and gives the second as :meth:`Progress.stage`: one bar whose
description names the running stage and whose count restarts with each stage. It is a context manager
that closes the bar.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any, TextIO

from .._progress import ProgressCallback

__all__ = ["Progress", "progress_enabled"]


def progress_enabled(*, quiet: bool, stream: TextIO | None = None) -> bool:
    s = sys.stderr if stream is None else stream
    try:
        return (not quiet) and s.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A progress callback: call it as ``p(done, total)`` or ``p.advance(k)``; close it when done."""

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        ticking: bool = False,
    ) -> None:
        self._bar: Any = None
        self._desc = desc
        self._stage: str | None = None
        self._lock = threading.Lock()  # the library may report from another thread than the ticker's
        self._done = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if progress_enabled(quiet=quiet, stream=stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=desc, file=sys.stderr if stream is None else stream, unit="it",
                leave=False, mininterval=0.5, delay=1.0,
            )  # fmt: skip
            if ticking:  # keep the elapsed time moving while one long call runs without callbacks
                self._ticker = threading.Thread(target=self._tick, name="progress-ticker", daemon=True)
                self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                bar = self._bar
                if bar is not None:
                    bar.refresh()

    @property
    def shown(self) -> bool:
        return self._bar is not None

    @property
    def callback(self) -> ProgressCallback | None:
        """:meth:`stage` when a bar is shown, else ``None`` (so the library skips reporting altogether)."""
        return self.stage if self._bar is not None else None

    def __call__(self, done: int, total: int | None = None) -> None:
        with self._lock:
            self._update(done, total)

    def _update(self, done: int, total: int | None) -> None:
        bar = self._bar
        if bar is None:
            return
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(max(0, done - self._done))
        self._done = max(self._done, done)

    def stage(self, stage: str, done: int, total: int) -> None:
        """A :data:`~blindmatch._progress.ProgressCallback`: the bar follows ``stage`` from 0 to ``total``.

        A new stage name (or a stage starting again, ``done`` lower than before) restarts the count.
        """
        with self._lock:
            bar = self._bar
            if bar is None:
                return
            if stage != self._stage or done < self._done:
                self._stage = stage
                self._done = 0
                bar.reset(total=total)
                bar.set_description(f"{self._desc}: {stage}", refresh=False)
            self._update(done, total)

    def note(self, text: str) -> None:
        """Show ``text`` after the counts (e.g. how many messages went by)."""
        with self._lock:
            if self._bar is not None:
                self._bar.set_postfix_str(text, refresh=False)

    @property
    def description(self) -> str | None:
        """The bar's description now (``None`` when no bar is shown)."""
        return None if self._bar is None else str(self._bar.desc).removesuffix(": ")

    def advance(self, n: int = 1) -> None:
        self(self._done + n)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
