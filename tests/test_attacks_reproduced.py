"""Each cheating strategy of ``audit_attacks`` works against an unmodified honest party.

For every strategy and every mode it applies to, the honest peer accepts every message and its signed
record says ``completed`` with the padded sizes an honest run shows; then one test per strategy checks that
the cheater really gains what the strategy promises: the items a count-only mode hides (per-item scalars),
a result its peer does not get (forged hashes, lying confirm), results about a set other than the one the
session was made with (swapped set), probes hidden in the padding (guesses as dummies), elements linkable
across sessions (reused scalar). The audit tests loop over ``ATTACKS`` the same way and assert each is
flagged; these tests are what makes "flagged" mean something.
"""

from __future__ import annotations

import pytest
from audit_attacks import (
    A_ONLY,
    A_VALUES,
    ATTACKS,
    B_ONLY,
    B_VALUES,
    COUNT_MODES,
    GUESSES_A,
    GUESSES_B,
    MUTUAL_MODES,
    SHARED,
    SWAPPED_A,
    SWAPPED_B,
    AttackRun,
    LyingConfirmInitiator,
    RecordingInitiator,
    RecordingResponder,
    ReusedScalarResponder,
    ReusedSeedInitiator,
    forged_hashes_responder,
    guesses_as_dummies_initiator,
    guesses_as_dummies_responder,
    items,
    lying_confirm_initiator,
    per_item_scalars_initiator,
    per_item_scalars_responder,
    request_elements,
    response_elements,
    run_attack,
    swapped_set_initiator,
    swapped_set_responder,
)
from session_support import CAROL

from blindmatch.hazmat.group import validate_peer_elements
from blindmatch.psi import MODES, mode_spec
from blindmatch.psi._wire import MAX_COUNT, parse_request
from blindmatch.session import InitiatorSession, ResponderSession

CASES = [(name, mode) for name, attack in ATTACKS.items() for mode in attack.modes]
TRULY_SHARED = set(items(SHARED))


def completed(party: InitiatorSession | ResponderSession) -> bool:
    outcome = party.record()["outcome"]
    return bool(outcome["status"] == "completed" and outcome["error"] is None)


def matched(party: InitiatorSession | ResponderSession) -> set[bytes]:
    result = party.result
    assert result is not None and result.matched_items is not None
    return set(result.matched_items)


def count(party: InitiatorSession | ResponderSession) -> int | None:
    assert party.result is not None
    return party.result.count


def test_registry_entries() -> None:
    assert len(ATTACKS) == 10
    for attack in ATTACKS.values():
        role, modes, run = attack  # the shape the audit tests unpack
        assert role in ("initiator", "responder")
        assert modes and set(modes) <= set(MODES)
        assert callable(run) and run.__doc__
    assert ATTACKS["per-item-scalars-initiator"].modes == COUNT_MODES
    assert ATTACKS["per-item-scalars-responder"].modes == ("mutual-cardinality",)
    assert ATTACKS["lying-confirm-initiator"].modes == MUTUAL_MODES


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_honest_party_accepts_everything(name: str, mode: str) -> None:
    attack = ATTACKS[name]
    run = attack.run(mode)
    init, resp, wire = run
    assert isinstance(run, AttackRun)
    assert run.cheater is (init if attack.role == "initiator" else resp)
    honest = run.honest
    assert honest.done and not honest.failed
    assert completed(honest) and completed(run.cheater)
    assert len(wire) == 4 + mode_spec(mode).confirm  # hello, accept, request, response[, confirm]
    # the sizes anyone sees are those of an honest run (12 and 30 distinct items, padded pow2)
    assert honest.record()["padded_sizes"] == {"initiator": 16, "responder": 32}
    assert len(run.loot.psi_wire) == 2 + mode_spec(mode).confirm


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_deterministic(name: str) -> None:
    attack = ATTACKS[name]
    mode = attack.modes[-1]
    assert attack.run(mode).wire == attack.run(mode).wire
    assert attack.run(mode, seed=b"other").wire != attack.run(mode).wire


# --- 1, 2: per-item scalars in the count-only modes ------------------------------------------------------


@pytest.mark.parametrize("mode", COUNT_MODES)
def test_per_item_scalars_initiator_learns_which_items(mode: str) -> None:
    run = per_item_scalars_initiator(mode)
    init, resp, _ = run
    assert init.result is not None
    assert init.result.learned == "count" and init.result.matched_items is None  # all the mode promises
    assert count(init) == 5
    assert run.loot.matched_items is not None
    assert sorted(run.loot.matched_items) == sorted(items(SHARED))  # exactly the shared items
    validate_peer_elements(request_elements(run.loot), "request")  # valid, distinct, canonical points
    if mode == "mutual-cardinality":
        assert count(resp) == 5  # the confirm makes the responder's count right: nothing looks wrong


def test_per_item_scalars_responder_learns_which_items() -> None:
    run = per_item_scalars_responder("mutual-cardinality")
    init, resp, _ = run
    assert resp.result is not None
    assert resp.result.learned == "count" and resp.result.matched_items is None
    assert count(resp) == 5
    assert run.loot.matched_items is not None
    assert sorted(run.loot.matched_items) == sorted(items(SHARED))
    validate_peer_elements(response_elements(run.loot), "response")
    assert count(init) == 0  # the price: no Y_j carries the scalar of the response hashes


# --- 3: forged comparison hashes -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_forged_hashes_leave_the_initiator_with_nothing(mode: str) -> None:
    init, resp, _ = forged_hashes_responder(mode)
    assert count(init) == 0
    if mode_spec(mode).initiator_learns == "intersection":
        assert matched(init) == set()
    if mode_spec(mode).confirm:
        assert count(resp) == 5  # the responder still learns its result from the confirm
    if mode == "mutual":
        assert matched(resp) == TRULY_SHARED


def test_forged_hashes_records_contradict() -> None:
    init, resp, _ = forged_hashes_responder("mutual")
    ri, rr = init.record(), resp.record()
    assert ri["outcome"]["status"] == rr["outcome"]["status"] == "completed"
    assert ri["transcript_hash"] == rr["transcript_hash"]  # the same messages on both sides
    assert ri["learned"]["initiator"]["count"] == ri["learned"]["responder"]["count"] == 0
    assert rr["learned"]["initiator"]["count"] == rr["learned"]["responder"]["count"] == 5


# --- 4: a lying confirm ----------------------------------------------------------------------------------


def test_lying_confirm_gives_the_responder_a_false_intersection() -> None:
    run = lying_confirm_initiator("mutual")
    init, resp, _ = run
    assert matched(init) == TRULY_SHARED  # the liar learns the truth
    assert run.loot.notes == {"denied": 5, "claimed": 4}
    believed = matched(resp)
    assert believed and believed.isdisjoint(TRULY_SHARED)  # every real match denied
    assert believed <= set(items(B_VALUES)) and believed.isdisjoint(items(A_VALUES))  # claims are false
    assert completed(resp)


def test_lying_confirm_sets_the_responders_count() -> None:
    init, resp, _ = lying_confirm_initiator("mutual-cardinality")
    assert count(init) == 5 and count(resp) == 4  # real matches denied, four claimed
    for kw, expected in (({"claim": 0}, 0), ({"claim": 6, "deny": False}, 11)):
        run = run_attack("mutual-cardinality", initiator_cls=LyingConfirmInitiator, initiator_kw=kw)
        assert count(run.initiator) == 5 and count(run.responder) == expected


# --- 5: a set other than the session's -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_swapped_set_initiator(mode: str) -> None:
    init, resp, _ = swapped_set_initiator(mode)
    assert init.result is not None and init.result.own_size == len(A_VALUES)  # the session's set S
    assert count(init) == 3  # |S' ∩ B|, where |S ∩ B| = 5
    swapped = set(items(SWAPPED_A)) & set(items(B_VALUES))
    if mode_spec(mode).initiator_learns == "intersection":
        assert matched(init) == swapped == set(items(B_ONLY[:3]))
    if mode == "mutual":
        assert matched(resp) == swapped  # the responder believes A holds three items A never had


@pytest.mark.parametrize("mode", MODES)
def test_swapped_set_responder(mode: str) -> None:
    init, resp, _ = swapped_set_responder(mode)
    assert resp.result is not None and resp.result.own_size == len(B_VALUES)
    swapped = set(items(SWAPPED_B)) & set(items(A_VALUES))
    assert swapped == set(items(SHARED[:2] + A_ONLY[:4]))
    assert count(init) == 6  # |S' ∩ A|, where |S ∩ A| = 5
    if mode_spec(mode).initiator_learns == "intersection":
        assert matched(init) == swapped  # A believes B holds four of A's items B never had
    if mode == "mutual":
        assert matched(resp) == swapped
    if mode_spec(mode).confirm:
        assert count(resp) == 6


# --- 6: guesses in the padding slots ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_guesses_as_dummies_initiator(mode: str) -> None:
    init, resp, _ = guesses_as_dummies_initiator(mode)
    hits = set(items(GUESSES_A)) & set(items(B_VALUES))
    assert len(hits) == 3
    assert init.record()["padded_sizes"]["initiator"] == 16 and init.result is not None
    assert init.result.own_size == len(A_VALUES)  # 12 real items, 4 "dummies"
    assert count(init) == 5 + 3
    if mode_spec(mode).initiator_learns == "intersection":
        assert matched(init) == TRULY_SHARED | hits  # the guesses that B holds are confirmed
    if mode == "mutual":
        assert matched(resp) == TRULY_SHARED | hits


@pytest.mark.parametrize("mode", MODES)
def test_guesses_as_dummies_responder(mode: str) -> None:
    init, resp, _ = guesses_as_dummies_responder(mode)
    hits = set(items(GUESSES_B)) & set(items(A_VALUES))
    assert hits == set(items(A_ONLY[:1]))
    assert resp.result is not None and resp.result.own_size == len(B_VALUES)
    assert count(init) == 5 + 1
    if mode == "mutual":
        assert matched(resp) == TRULY_SHARED | hits
    if mode_spec(mode).confirm:
        assert count(resp) == 6


# --- 7: a scalar reused across sessions ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["intersection", "mutual-cardinality"])
def test_reused_scalar_initiator_is_linkable(mode: str) -> None:
    other = [*A_ONLY[:3], "c0@lab-c.example"]
    first = run_attack(mode, initiator_cls=ReusedSeedInitiator, seed=b"one")
    second = run_attack(mode, initiator_cls=ReusedSeedInitiator, seed=b"two", responder=CAROL, a_values=other)
    assert first.initiator.manifest != second.initiator.manifest
    common = set(request_elements(first.loot)) & set(request_elements(second.loot))
    assert len(common) == 3  # the same blinded element for each item in both sessions, to both peers
    sids = {parse_request(run.loot.psi_wire[0], MAX_COUNT).session_id for run in (first, second)}
    assert len(sids) == 1  # even the PSI session id is the same
    honest = [
        run_attack(mode, initiator_cls=RecordingInitiator, seed=b"one"),
        run_attack(mode, initiator_cls=RecordingInitiator, seed=b"two", responder=CAROL, a_values=other),
    ]
    assert not set(request_elements(honest[0].loot)) & set(request_elements(honest[1].loot))


@pytest.mark.parametrize("mode", ["intersection", "mutual-cardinality"])
def test_reused_scalar_responder_is_linkable(mode: str) -> None:
    first = ATTACKS["reused-scalar-responder"].run(mode, seed=b"one")
    second = ATTACKS["reused-scalar-responder"].run(mode, seed=b"two")
    assert isinstance(first.responder, ReusedScalarResponder)
    assert request_elements(first.loot) != request_elements(second.loot)  # two different requests
    common = set(response_elements(first.loot)) & set(response_elements(second.loot))
    assert len(common) == len(B_VALUES)  # every real item: the same element in both sessions
    honest = [run_attack(mode, responder_cls=RecordingResponder, seed=s) for s in (b"one", b"two")]
    assert not set(response_elements(honest[0].loot)) & set(response_elements(honest[1].loot))
