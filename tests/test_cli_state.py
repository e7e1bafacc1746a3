"""The state of a file exchange in progress keeps its secrets out of reprs."""

from __future__ import annotations

from blindmatch.cli._resume import StepState
from blindmatch.indicator_set import InputSpec


def test_step_state_repr_shows_neither_seed_nor_inputs() -> None:
    seed = bytes(range(32))
    inputs = InputSpec.of(["secret-folder/lab.csv"], errors="skip")
    state = StepState(role="responder", seed=seed, identity="b.pem", inputs=inputs, inputs_digest="ab" * 32)
    text = repr(state)
    assert "responder" in text and "b.pem" in text
    for secret in (repr(seed), seed.hex(), "secret-folder", "InputSpec", "seed=", "inputs=", "ab" * 32):
        assert secret not in text
