"""The coordinator's join for one bin and one set of labs (docs/groups.md, "Coordinator"), exact.

With ``h = t - 1`` head labs, ``cols[k][s]`` is lab ``k``'s slot ``s`` share already scaled so that a choice
of one slot per head lab passes when ``sum_k cols[k][s_k] = y (mod p)`` for a share ``y`` of the last lab.
For ``h = 1`` that is a hash look-up per slot. For larger ``h`` all ``m^h`` sums are formed with numpy on
their low 64 bits (``sum mod p`` is ``sum - j p`` for some ``0 <= j < h``), candidates are the sums whose
low bits match a last-lab share's, and each candidate is checked again with exact integers: the result is
exactly the Python loop's, only faster. Past ``VECTOR_LIMIT`` sums per bin the plain loop runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import product

import numpy as np

__all__ = ["VECTOR_LIMIT", "slot_choices"]

VECTOR_LIMIT = 1 << 22
_LOW = (1 << 64) - 1


def slot_choices(
    cols: Sequence[Sequence[int]], index: Mapping[int, list[int]], field: int
) -> Iterator[tuple[int, ...]]:
    """Every ``(s_1, ..., s_h, s_last)`` whose scaled head shares sum to a last-lab share mod ``field``."""
    h, m = len(cols), len(cols[0]) if cols else 0
    if h == 1:
        for s, c in enumerate(cols[0]):
            for s_last in index.get(c, ()):
                yield (s, s_last)
        return
    whole = m**h > VECTOR_LIMIT
    choices = product(range(m), repeat=h) if whole else _candidates(cols, index, field)
    for choice in choices:
        exact = sum(cols[k][s] for k, s in enumerate(choice)) % field
        for s_last in index.get(exact, ()):
            yield (*choice, s_last)


def _candidates(
    cols: Sequence[Sequence[int]], index: Mapping[int, list[int]], field: int
) -> Iterator[tuple[int, ...]]:
    """The choices whose sum matches a last-lab share in its low 64 bits (a superset of the passing ones)."""
    total = np.array([c & _LOW for c in cols[0]], dtype=np.uint64)
    for col in cols[1:]:
        total = np.add.outer(total, np.array([c & _LOW for c in col], dtype=np.uint64))
    targets = np.array(sorted({y & _LOW for y in index}), dtype=np.uint64)
    hit = np.zeros(total.shape, dtype=bool)
    for j in range(len(cols)):
        hit |= np.isin(total - np.uint64((j * field) & _LOW), targets)
    for choice in zip(*np.nonzero(hit), strict=True):
        yield tuple(int(s) for s in choice)
