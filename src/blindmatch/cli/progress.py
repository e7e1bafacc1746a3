"""Progress display for the command line: a tqdm bar on a terminal, nothing when piped or ``--quiet``.

Library code never draws bars; it takes a callback ``progress(done, total)``. :class:`Progress` is such a
callback (and a context manager that closes the bar).
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any, TextIO

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
            bar = self._bar
            if bar is not None:
                bar.refresh()

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def __call__(self, done: int, total: int | None = None) -> None:
        if self._bar is None:
            return
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(max(0, done - self._done))
        self._done = max(self._done, done)

    def advance(self, n: int = 1) -> None:
        self(self._done + n)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
