"""The PSI progress callback: per-stage reports, no effect on messages or results, errors propagate."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from psi_util import drbg, items

from blindmatch.errors import InvalidParameter, LocalProtocolError
from blindmatch.psi import MODES, STAGES, Initiator, Mode, Responder, run_in_memory
from blindmatch.psi._parallel import PROGRESS_CHUNK, map_chunked

Call = tuple[str, int, int]


def _run(mode: Mode, a: list[bytes], b: list[bytes], seed: str, calls: list[Call] | None) -> list[bytes]:
    cb = None if calls is None else (lambda s, d, t: calls.append((s, d, t)))
    init = Initiator(a, mode, rng=drbg(seed + "a"), progress=cb)
    resp = Responder(b, rng=drbg(seed + "b"), progress=cb)
    wire = [init.start()]
    wire.append(resp.respond(wire[0]))
    m3 = init.finish(wire[1])
    if m3 is not None:
        wire.append(m3)
        resp.finish(m3)
    wire.append(repr((init.result, init.result.matched, resp.result, resp.result.matched)).encode())
    return wire


def _check_stages(calls: list[Call]) -> dict[str, list[tuple[int, int]]]:
    """Each stage run: done never decreases, the total is fixed, the last call has done == total."""
    runs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    prev: Call | None = None
    for stage, done, total in calls:
        assert stage in STAGES
        assert 0 <= done <= total
        if prev is not None and prev[0] == stage and prev[1] < prev[2]:  # same stage still running
            assert total == prev[2]
            assert done >= prev[1]
        else:  # a new stage run begins where the previous one ended
            assert prev is None or prev[1] == prev[2]
        runs[stage].append((done, total))
        prev = (stage, done, total)
    assert prev is not None and prev[1] == prev[2]
    return runs


def test_callback_changes_no_byte_over_several_chunks() -> None:
    n = PROGRESS_CHUNK + 300  # more than one chunk
    a = items(list(range(n)))
    b = items(list(range(n - 500, n + 100)))
    calls: list[Call] = []
    assert _run("mutual", a, b, "big", calls) == _run("mutual", a, b, "big", None)
    runs = _check_stages(calls)
    blind_own = [c for c in calls if c[0] == "blind own set"]
    # the initiator's own set: 0, one report per chunk of 8192, then the end
    assert [d for _, d, t in blind_own if t == n] == [0, PROGRESS_CHUNK, n]
    assert set(runs) == set(STAGES)


@pytest.mark.parametrize("mode", MODES)
def test_callback_changes_no_byte(mode: Mode) -> None:
    a, b = items(list(range(300))), items(list(range(250, 400)))
    calls: list[Call] = []
    assert _run(mode, a, b, mode, calls) == _run(mode, a, b, mode, None)
    runs = _check_stages(calls)
    assert set(runs) == set(STAGES)
    assert (300, 300) in runs["compare"]  # the initiator's comparison ended


def test_callback_with_workers_changes_no_byte() -> None:
    a = items(list(range(2100)))
    calls: list[Call] = []
    init = Initiator(a, "cardinality", rng=drbg("w"), workers=2, progress=lambda *c: calls.append(c))
    plain = Initiator(a, "cardinality", rng=drbg("w"), workers=1)
    assert init.start() == plain.start()
    _check_stages(calls)
    assert calls[0] == ("blind own set", 0, 2100) and calls[-1] == ("blind own set", 2100, 2100)
    assert len(calls) > 2  # reported as the pool's chunks completed


def test_stage_order_of_each_party() -> None:
    a, b = items([1, 2, 3]), items([2, 3, 4, 5])
    for mode, resp_finish in (("intersection", False), ("mutual", True)):
        seen_i: list[Call] = []
        seen_r: list[Call] = []
        init = Initiator(a, mode, rng=drbg("i"), progress=lambda *c, out=seen_i: out.append(c))
        resp = Responder(b, rng=drbg("r"), progress=lambda *c, out=seen_r: out.append(c))
        m3 = init.finish(resp.respond(init.start()))
        if m3 is not None:
            resp.finish(m3)
        assert seen_i == [
            ("blind own set", 0, 3), ("blind own set", 3, 3),
            ("blind peer set", 0, 4), ("blind peer set", 4, 4),
            ("compare", 0, 3), ("compare", 3, 3),
        ]  # fmt: skip
        want_r = [
            ("blind own set", 0, 4), ("blind own set", 4, 4),
            ("blind peer set", 0, 3), ("blind peer set", 3, 3),
        ]  # fmt: skip
        if resp_finish:
            want_r += [("compare", 0, 4), ("compare", 4, 4)]
        assert seen_r == want_r


def test_empty_sets_end_every_stage() -> None:
    calls: list[Call] = []
    ri, rr = run_in_memory([], items([1]), "mutual", rng=drbg("e"), progress=lambda *c: calls.append(c))
    assert ri.count == 0 and rr.count == 0
    _check_stages(calls)
    assert ("blind own set", 0, 0) in calls


def test_run_in_memory_reports_both_parties() -> None:
    calls: list[Call] = []
    a, b = items(list(range(50))), items(list(range(25, 90)))
    ri, _ = run_in_memory(a, b, "intersection", rng=drbg("m"), progress=lambda *c: calls.append(c))
    assert ri.matched == items(list(range(25, 50)))
    runs = _check_stages(calls)
    assert runs["blind own set"][-1] == (50, 50) or (50, 50) in runs["blind own set"]
    assert (65, 65) in runs["blind own set"]


class Stop(Exception):
    pass


def test_raising_callback_propagates_and_fails_the_party() -> None:
    def cb(stage: str, done: int, total: int) -> None:
        if stage == "blind peer set" and done == total:
            raise Stop("cancelled by the operator")

    a, b = items([1, 2, 3]), items([2, 3])
    init = Initiator(a, rng=drbg("x"), progress=cb)
    resp = Responder(b, rng=drbg("y"))
    m2 = resp.respond(init.start())
    with pytest.raises(Stop, match="cancelled"):
        init.finish(m2)
    assert init.failed and not init.done
    with pytest.raises(LocalProtocolError):
        init.finish(m2)
    with pytest.raises(LocalProtocolError):
        _ = init.result

    resp2 = Responder(b, rng=drbg("y"), progress=cb)
    with pytest.raises(Stop):
        resp2.respond(Initiator(a, rng=drbg("x")).start())
    assert resp2.failed
    with pytest.raises(LocalProtocolError):
        resp2.respond(b"")


def test_progress_must_be_callable() -> None:
    with pytest.raises(InvalidParameter):
        Initiator(items([1]), progress="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        Responder(items([1]), progress=3)  # type: ignore[arg-type]


def _square(offset: int, xs: list[int]) -> list[int]:
    return [offset + x * x for x in xs]


def test_pool_reports_as_chunks_complete() -> None:
    seq = list(range(5000))
    seen: list[tuple[int, int]] = []
    out = map_chunked(_square, (1,), seq, 2, lambda d, t: seen.append((d, t)))
    assert out == _square(1, seq)
    assert seen[0] == (0, 5000) and seen[-1] == (5000, 5000)
    assert len(seen) > 2  # several chunks
    assert all(x[0] <= y[0] for x, y in itertools.pairwise(seen))
    assert out == map_chunked(_square, (1,), seq, 2)
