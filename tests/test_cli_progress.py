"""Progress bars appear only on a terminal and never with --quiet."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

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


def test_callback_is_none_without_a_bar() -> None:
    with Progress("x", stream=io.StringIO()) as p:
        assert p.callback is None
        p.stage("blind own set", 1, 2)  # harmless no-op
        p.note("message 1/4")
        assert p.description is None
    with Progress("x", stream=FakeTty(), quiet=True) as p:
        assert p.callback is None


def test_stage_callback_drives_the_bar() -> None:
    from blindmatch.psi import run_in_memory

    tty = FakeTty()
    seen: list[tuple[str | None, int, int | None]] = []
    with Progress("psi step 2", stream=tty) as p:
        cb = p.callback
        assert cb is not None

        def spy(stage: str, done: int, total: int) -> None:
            cb(stage, done, total)
            bar = p._bar
            seen.append((p.description, bar.n, bar.total))

        a = [b"x%d" % i for i in range(40)]
        b = [b"x%d" % i for i in range(20, 70)]
        ri, _ = run_in_memory(a, b, "intersection", progress=spy)
        assert ri.count == 20
        assert p.description is not None and "compare" in p.description
        p.note("message 3/4")
    # the bar restarts its count with each stage and follows the library's done/total exactly
    assert seen[0] == ("psi step 2: blind own set", 0, 40)
    assert ("psi step 2: blind own set", 40, 40) in seen
    assert ("psi step 2: blind own set", 50, 50) in seen  # the responder's own set
    assert ("psi step 2: blind peer set", 40, 40) in seen
    assert seen[-1] == ("psi step 2: compare", 40, 40)
    assert not p.shown


def test_stage_restart_resets_the_count() -> None:
    with Progress("replay", stream=FakeTty()) as p:
        p.stage("blind own set", 8192, 10000)
        p.stage("blind own set", 10000, 10000)
        p.stage("blind own set", 0, 300)  # the same stage again (a replayed step)
        assert (p._bar.n, p._bar.total) == (0, 300)
        p.stage("blind own set", 300, 300)
        assert p._bar.n == 300


def _lab(d: Path) -> tuple[list[str], list[str]]:
    from cli_support import make_lab_keys

    make_lab_keys(d)
    (d / "a.csv").write_text("kind,value\n" + "".join(f"email,u{i}@example.org\n" for i in range(30)))
    (d / "b.csv").write_text("kind,value\n" + "".join(f"email,u{i}@example.org\n" for i in range(20, 45)))
    return (
        ["--identity", str(d / "a.pem"), "--peers", str(d / "a-peers.json")],
        ["--identity", str(d / "b.pem"), "--peers", str(d / "b-peers.json")],
    )


@pytest.mark.parametrize("quiet", [False, True])
def test_psi_steps_drive_the_bar_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    from blindmatch.cli import main
    from blindmatch.cli import progress as progress_mod

    calls: list[tuple[str, str, int, int]] = []
    original = progress_mod.Progress.stage

    def spy(self: Progress, stage: str, done: int, total: int) -> None:
        calls.append((self._desc, stage, done, total))
        original(self, stage, done, total)

    monkeypatch.setattr(progress_mod.Progress, "stage", spy)
    monkeypatch.setattr(sys, "stderr", FakeTty())
    monkeypatch.chdir(tmp_path)
    ca, cb = _lab(tmp_path)
    q = ["--quiet"] if quiet else []
    assert main(["psi", "initiate", *ca, "--peer", "lab-b", "-i", "a.csv", "--mode", "mutual",
                 "--purpose", "t", "--max-items", "64", "--state", "a.state", *q]) == 0  # fmt: skip
    assert main(["psi", "respond", *cb, "-i", "b.csv", "--in", "a-msg0.bin", "--state", "b.state",
                 "--max-own-items", "64", *q]) == 0
    assert main(["psi", "continue", "--state", "a.state", "--in", "b-msg1.bin", *q]) == 0
    assert main(["psi", "continue", "--state", "b.state", "--in", "a-msg2.bin", *q]) == 0
    assert main(["psi", "finish", "--state", "a.state", "--in", "b-msg3.bin", *q]) == 0
    assert main(["psi", "finish", "--state", "b.state", "--in", "a-msg4.bin", *q]) == 0
    if quiet:
        assert calls == []  # no bar, and the library was given no callback at all
        return
    ends = [(desc, stage, total) for desc, stage, done, total in calls if done == total]
    # "psi step N" handles message N-1; each step restores the party saved by the one before and does only
    # its own PSI work (30 and 25 real items, both padded to 32): no stage repeats across steps
    assert ends == [
        ("psi step 2", "blind own set", 32),  # initiator: the accept arrived, its set is blinded
        ("psi step 3", "blind own set", 32), ("psi step 3", "blind peer set", 32),  # responder
        ("psi step 4", "blind peer set", 32), ("psi step 4", "compare", 32),  # initiator: result
        ("psi step 5", "compare", 32),  # responder: result from the confirm alone
    ]  # fmt: skip


def test_serve_and_connect_drive_their_bars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from blindmatch.cli import main
    from blindmatch.cli import progress as progress_mod

    calls: list[tuple[str, str, int, int]] = []
    closed: list[str] = []
    original_stage, original_close = progress_mod.Progress.stage, progress_mod.Progress.close

    def spy(self: Progress, stage: str, done: int, total: int) -> None:
        calls.append((self._desc, stage, done, total))
        original_stage(self, stage, done, total)

    def spy_close(self: Progress) -> None:
        if self.shown:
            closed.append(self._desc)
        original_close(self)

    monkeypatch.setattr(progress_mod.Progress, "stage", spy)
    monkeypatch.setattr(progress_mod.Progress, "close", spy_close)
    monkeypatch.setattr(sys, "stderr", FakeTty())
    ca, cb = _lab(tmp_path)
    port_file = tmp_path / "port"
    codes: list[int] = []
    server = threading.Thread(
        target=lambda: codes.append(main([
            "serve", *cb, "-i", str(tmp_path / "b.csv"), "--max-sessions", "1", "--port", "0",
            "--port-file", str(port_file), "--out-dir", str(tmp_path / "b-out"), "--max-own-items", "64",
        ])),
        daemon=True,
    )  # fmt: skip
    server.start()
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        assert time.monotonic() < deadline and server.is_alive()
        time.sleep(0.05)
    port = port_file.read_text().strip()
    assert main(["connect", *ca, "--peer", "lab-b", "--port", port, "-i", str(tmp_path / "a.csv"),
                 "--mode", "mutual", "--purpose", "t", "--max-items", "64",
                 "--out-dir", str(tmp_path / "a-out")]) == 0  # fmt: skip
    server.join(30)
    assert codes == [0]
    ends = [(desc.split(" ")[0], stage, total) for desc, stage, done, total in calls if done == total]
    assert ends.count(("exchange", "blind own set", 32)) == 1
    assert ("exchange", "compare", 32) in ends
    assert ("session", "blind peer set", 32) in ends and ("session", "compare", 32) in ends
    assert "exchange with lab-b" in closed
    assert any(d.startswith("session from ") for d in closed)  # the per-session bar was closed
