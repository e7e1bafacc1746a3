"""The state of a file exchange in progress keeps its secrets out of reprs."""

from __future__ import annotations

from blindmatch.cli._exchange import LoadedSet
from blindmatch.cli._resume import StepState


def test_step_state_repr_shows_neither_seed_nor_inputs() -> None:
    seed = bytes(range(32))
    inputs = LoadedSet(items_by_kind={"email": ["secret-indicator@example.org"]})
    text = repr(StepState(role="responder", seed=seed, identity="b.pem", inputs=inputs))
    assert "responder" in text and "b.pem" in text
    for secret in (repr(seed), seed.hex(), "secret-indicator", "LoadedSet", "seed=", "inputs="):
        assert secret not in text
