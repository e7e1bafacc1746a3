"""Over-threshold runs as sans-I/O parties over signed messages (groups.threshold_run / threshold_wire):
results equal plain counting; the forum policy refuses runs outside it before anything is computed; forged,
replayed, misaddressed and truncated messages raise typed remote errors only."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from blindmatch.errors import LocalError, LocalProtocolError, RemoteError
from blindmatch.groups import dropbox
from blindmatch.groups import threshold_wire as wire
from blindmatch.groups.forum_policy import ForumPolicy, NotAMember, Revocation, RunOutsidePolicy
from blindmatch.groups.overthreshold import OverThresholdError
from blindmatch.groups.threshold_run import (
    ThresholdCoordinator,
    ThresholdLab,
    ThresholdTerms,
    run_threshold_in_memory,
)
from blindmatch.session.identity import Identity

FORUM = Identity.from_seed(b"f" * 32)
IDS = [Identity.from_seed(bytes([65 + i]) * 32) for i in range(5)]
NOW = 1_800_000_100


def _terms(n: int, t: int, n_items: int = 16, kinds: tuple[str, ...] = ("email",)) -> ThresholdTerms:
    labs = tuple((f"lab-{chr(97 + i)}", IDS[i].public) for i in range(n))
    return ThresholdTerms(bytes(range(16)), labs, t, n_items, kinds, FORUM.public)


def _expected(sets: list[set[bytes]], t: int) -> list[list[bytes]]:
    return [sorted(x for x in s if sum(x in o for o in sets) >= t) for s in sets]


def _parties(
    terms: ThresholdTerms, sets: list[set[bytes]]
) -> tuple[ThresholdCoordinator, dict[int, ThresholdLab]]:
    labs = {i + 1: ThresholdLab(terms, IDS[i], s, seed=bytes([i]) * 32) for i, s in enumerate(sets)}
    return ThresholdCoordinator(terms, FORUM), labs


@pytest.mark.parametrize(("n", "t"), [(3, 2), (3, 3), (4, 2), (4, 3)])
def test_a_run_over_the_wire_matches_plain_counting(n: int, t: int) -> None:
    rng = random.Random(n * 10 + t)
    sets = [{f"e{i}".encode() for i in rng.sample(range(30), rng.randint(3, 12))} for _ in range(n)]
    terms = _terms(n, t)
    coordinator, labs = _parties(terms, sets)
    got = run_threshold_in_memory(terms, coordinator, labs)
    assert [got[i] for i in range(1, n + 1)] == _expected(sets, t)
    assert all(lab.done for lab in labs.values())


def _policy(**changes: object) -> ForumPolicy:
    fields: dict[str, object] = dict(
        forum="forum", forum_key=FORUM.public, version=1, issued=NOW - 100, not_after=NOW + 10_000,
        canon_version=1, kinds=("email", "ip"), max_items=64, paddings=("cap",), min_threshold=2,
        retention_days=30, members={f"lab-{chr(97 + i)}": IDS[i].public for i in range(4)},
    )  # fmt: skip
    fields.update(changes)
    return ForumPolicy(**fields)  # type: ignore[arg-type]


def test_the_forum_policy_holds_the_run() -> None:
    _terms(3, 2).check_policy(_policy(), NOW)
    with pytest.raises(RunOutsidePolicy, match="kinds"):
        _terms(3, 2, kinds=("email", "account")).check_policy(_policy(), NOW)
    with pytest.raises(RunOutsidePolicy, match="max_items"):
        _terms(3, 2, n_items=65).check_policy(_policy(), NOW)
    with pytest.raises(RunOutsidePolicy, match="threshold"):
        _terms(3, 2).check_policy(_policy(min_threshold=3), NOW)
    with pytest.raises(RunOutsidePolicy, match="padding"):
        _terms(3, 2).check_policy(_policy(paddings=("pow2",)), NOW)
    with pytest.raises(NotAMember):
        _terms(5, 2).check_policy(_policy(), NOW)  # lab-e is not a member
    with pytest.raises(NotAMember):
        _terms(3, 2).check_policy(_policy(revoked=(Revocation(at=NOW - 1, name="lab-b"),)), NOW)
    renamed = ThresholdTerms(bytes(16), (("lab-b", IDS[0].public), ("lab-a", IDS[1].public)), 2, 8,
                             ("email",), FORUM.public)  # fmt: skip
    with pytest.raises(RunOutsidePolicy, match="labs"):
        renamed.check_policy(_policy(), NOW)


def _first_messages(
    n: int = 3,
) -> tuple[ThresholdTerms, ThresholdCoordinator, dict[int, ThresholdLab], list[bytes]]:
    terms = _terms(n, 2)
    coordinator, labs = _parties(terms, [{b"a", b"b"}, {b"b"}, {b"c"}][:n])
    starts = [data for lab in labs.values() for _, data in lab.start()]
    return terms, coordinator, labs, starts


def test_forged_and_replayed_messages_are_refused() -> None:
    terms, coordinator, labs, starts = _first_messages()
    relayed = coordinator.receive(starts[0])
    assert sorted(to for to, _ in relayed) == [2, 3]
    with pytest.raises(OverThresholdError):
        coordinator.receive(starts[0])  # the same key twice
    forged = starts[1][:-1] + bytes([starts[1][-1] ^ 1])
    with pytest.raises(OverThresholdError, match="bad signature"):
        coordinator.receive(forged)
    impostor = wire.encode(IDS[4], wire.KIND_KEY, terms.round_id, 2, wire.EVERY_LAB, bytes(32))
    with pytest.raises(OverThresholdError, match="bad signature"):
        coordinator.receive(impostor)
    other_run = wire.encode(IDS[1], wire.KIND_KEY, bytes(16), 2, wire.EVERY_LAB, bytes(32))
    with pytest.raises(OverThresholdError, match="another run"):
        coordinator.receive(other_run)
    fake_result = wire.encode(IDS[1], wire.KIND_RESULT, terms.round_id, 0, 1, wire.encode_result({0}))
    with pytest.raises(OverThresholdError, match="bad signature"):
        labs[1].receive(fake_result)


def test_hostile_bytes_raise_remote_errors_only() -> None:
    terms, _, _, starts = _first_messages()
    rng = random.Random(7)
    samples = [b"", b"BMOT", starts[0][:40], starts[0] + b"x", bytes(200)]
    for _ in range(200):
        data = bytearray(rng.choice(starts))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        samples.append(bytes(data[: rng.randint(0, len(data))] if rng.random() < 0.3 else data))
    refused = 0
    for data in samples:
        lab = ThresholdLab(terms, IDS[1], [b"b"], seed=bytes(32))
        lab.start()
        for party in (ThresholdCoordinator(terms, FORUM), lab):
            try:
                party.receive(data)
            except RemoteError:
                refused += 1
    assert refused >= 2 * len(samples) - 5  # an intact message of another lab may pass


def test_a_hop_out_of_ring_order_is_refused_by_the_coordinator() -> None:
    terms, coordinator, labs, starts = _first_messages()
    queue = []
    for data in starts:
        queue += coordinator.receive(data)
    hops = []
    for to, data in queue:
        hops += labs[to].receive(data)
    hop_from_1 = next(data for _, data in hops if wire.peek(data).sender == 1)
    body = wire.peek(hop_from_1).body
    misdirected = wire.encode(IDS[0], wire.KIND_HOP, terms.round_id, 1, 3, body)
    with pytest.raises(OverThresholdError, match="ring order"):
        coordinator.receive(misdirected)
    coordinator.receive(hop_from_1)
    with pytest.raises(OverThresholdError, match="twice"):
        coordinator.receive(hop_from_1)


def test_misuse_is_a_local_error_and_a_dropout_is_named() -> None:
    terms, coordinator, labs, starts = _first_messages()
    with pytest.raises(LocalProtocolError):
        labs[1].start()
    assert coordinator.missing_uploads() == [1, 2, 3]
    lone = ThresholdLab(terms, IDS[0], [b"x"], seed=bytes(32))
    with pytest.raises(LocalProtocolError):
        lone.receive(starts[1])  # before start()


def _threaded(fns: dict[str, Callable[[], object]]) -> dict[str, object]:
    out: dict[str, object] = {}

    def run(name: str, fn: Callable[[], object]) -> None:
        try:
            out[name] = fn()
        except BaseException as exc:  # collected for the test to assert on
            out[name] = exc

    threads = [threading.Thread(target=run, args=item) for item in fns.items()]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return out


def test_a_run_through_a_shared_folder(tmp_path: Path) -> None:
    sets = [{b"a", b"b", b"c"}, {b"b", b"c"}, {b"c", b"d"}]
    terms = _terms(3, 2)
    coordinator, labs = _parties(terms, sets)
    # junk anyone with write access could drop: passed over, the run goes on
    forged = wire.encode(IDS[4], wire.KIND_KEY, terms.round_id, 2, wire.EVERY_LAB, bytes(32))
    other_run = wire.encode(IDS[1], wire.KIND_KEY, bytes(16), 2, wire.EVERY_LAB, bytes(32))
    for box in ("to-coordinator", "to-lab-1"):
        (tmp_path / box).mkdir()
        (tmp_path / box / "000-0-junk.msg").write_bytes(b"not a message")
        (tmp_path / box / "002-1-forged.msg").write_bytes(forged)
        (tmp_path / box / "002-1-other-run.msg").write_bytes(other_run)
    fns: dict[str, Callable[[], object]] = {
        f"lab{i}": (lambda lab=lab: dropbox.run_lab(lab, tmp_path, timeout=20, interval=0.02))  # type: ignore[misc]
        for i, lab in labs.items()
    }
    fns["coordinator"] = lambda: dropbox.run_coordinator(coordinator, tmp_path, timeout=20, interval=0.02)
    got = _threaded(fns)
    assert [got[f"lab{i}"] for i in (1, 2, 3)] == _expected(sets, 2)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.msg"))
    assert {f.split("/")[0] for f in files} == {"to-coordinator", "to-lab-1", "to-lab-2", "to-lab-3"}
    files = [f for f in files if "junk" not in f and "forged" not in f and "other-run" not in f]
    assert all((tmp_path / f).stat().st_mode & 0o777 == 0o600 for f in files)
    # a lab restarted with the same seed writes the same messages again (idempotent) and gets its result
    again = ThresholdLab(terms, IDS[0], sets[0], seed=bytes([0]) * 32)
    assert dropbox.run_lab(again, tmp_path, timeout=5, interval=0.01) == _expected(sets, 2)[0]
    again_files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.msg"))
    assert [f for f in again_files if "junk" not in f and "forged" not in f and "other-run" not in f] == files
    # the same lab with another seed would send other bytes: refused, nothing overwritten
    changed = ThresholdLab(terms, IDS[0], sets[0], seed=bytes([9]) * 32)
    with pytest.raises(LocalError, match="seed"):
        dropbox.run_lab(changed, tmp_path, timeout=5, interval=0.01)


def test_a_lab_that_never_comes_is_named_and_nobody_gets_a_result(tmp_path: Path) -> None:
    terms = _terms(3, 2)
    coordinator, labs = _parties(terms, [{b"a"}, {b"a"}, {b"b"}])
    clock = iter(range(0, 10_000, 1)).__next__
    got = _threaded({
        "lab1": lambda: dropbox.run_lab(labs[1], tmp_path, timeout=3, interval=0.01),
        "lab2": lambda: dropbox.run_lab(labs[2], tmp_path, timeout=3, interval=0.01),
        "coordinator": lambda: dropbox.run_coordinator(
            coordinator, tmp_path, timeout=50, interval=0.001, clock=lambda: float(clock())
        ),
    })  # fmt: skip
    for name in ("lab1", "lab2", "coordinator"):
        assert isinstance(got[name], dropbox.DropboxTimeout), got[name]
        assert "lab-c" in str(got[name])
    assert labs[1].results is None and labs[2].results is None


def test_a_symlinked_message_is_refused(tmp_path: Path) -> None:
    terms = _terms(3, 2)
    coordinator, _ = _parties(terms, [{b"a"}, {b"a"}, {b"b"}])
    box = tmp_path / "to-coordinator"
    box.mkdir()
    secret = tmp_path / "elsewhere"
    secret.write_bytes(b"x")
    (box / "001-1-x.msg").symlink_to(secret)
    with pytest.raises(RemoteError, match="plain file"):
        dropbox.run_coordinator(coordinator, tmp_path, timeout=1, interval=0.01)
