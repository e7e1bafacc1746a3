"""Progress bars appear only on a terminal and never with --quiet."""

from __future__ import annotations

import io

from blindmatch.cli.progress import Progress, progress_enabled


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_piped_or_quiet() -> None:
    assert not progress_enabled(quiet=False, stream=io.StringIO())
    assert not progress_enabled(quiet=True, stream=FakeTty())
    with Progress("x", total=3, stream=io.StringIO()) as p:
        p(1)
        p.advance()
        assert not p.shown


def test_bar_on_a_terminal() -> None:
    tty = FakeTty()
    assert progress_enabled(quiet=False, stream=tty)
    with Progress("work", total=4, stream=tty) as p:
        assert p.shown
        p(2, 4)
        p.advance(2)
    assert not p.shown  # closed


def test_ticking_bar_refreshes_and_stops() -> None:
    import time

    tty = FakeTty()
    with Progress("busy", stream=tty, ticking=True) as p:
        time.sleep(1.8)  # past tqdm's 1 s delay: the ticker has drawn the bar
    assert "busy" in tty.getvalue()
    assert not p.shown
