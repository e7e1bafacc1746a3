"""The progress callback the library reports long computations to (the command line draws the bars).

A callback is called as ``progress(stage, done, total)``: ``stage`` names the step (see the ``STAGE_*``
constants), ``done`` counts the elements finished so far (never decreasing within a stage) and ``total``
the elements of the stage. Every stage ends with a call where ``done == total`` (also for an empty stage,
``(stage, 0, 0)``). Calls come once per chunk of work, never once per element, and always from the
thread that called the library (the workers of a process pool never call it).

The callback must not change anything: results and messages are the same with and without one. An
exception it raises propagates unchanged out of the call that was running, and the party that made the
call is then failed (it refuses further use, like after any other error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

__all__ = [
    "STAGES",
    "STAGE_BLIND_OWN",
    "STAGE_BLIND_PEER",
    "STAGE_COMPARE",
    "STAGE_STREAM",
    "STAGE_STREAM_PREPARE",
    "STREAM_STAGES",
    "ProgressCallback",
]

ProgressCallback: TypeAlias = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; see the module documentation."""

STAGE_BLIND_OWN = "blind own set"
"""Hash each own item to the group and blind it with the party's secret scalar."""
STAGE_BLIND_PEER = "blind peer set"
"""Blind each element the peer sent with the party's secret scalar and hash it for comparison."""
STAGE_COMPARE = "compare"
"""Compare the two sets of comparison hashes."""

STAGES: tuple[str, ...] = (STAGE_BLIND_OWN, STAGE_BLIND_PEER, STAGE_COMPARE)

STAGE_STREAM_PREPARE = "prepare own set (streaming)"
"""A streaming session: read, blind or bucket and sort the own set on disk (one step: 0 of 1, then 1)."""
STAGE_STREAM = "stream chunks"
"""A streaming session: chunks sent and received (pulls not counted), out of the number the sizes fix."""
STREAM_STAGES: tuple[str, ...] = (STAGE_STREAM_PREPARE, STAGE_STREAM)
