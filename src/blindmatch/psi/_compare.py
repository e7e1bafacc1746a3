"""The compare step as a partitioned join an executor can run (results identical to one set lookup).

Both lists are comparison hashes (16-byte keyed BLAKE2b outputs, so their leading bytes are uniform for
honest values). Each hash goes to the partition its first two bytes select, ``prefix * P >> 16``; the
number of partitions ``P`` comes from the list sizes and the executor only, never from the content. Each
partition is intersected as one task; the positions found are concatenated in partition order and
sorted, so the outcome is the same for any ``P``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..executors import Executor, ProcessExecutor

__all__ = ["COMPARE_MIN_PARALLEL", "MAX_PARTITIONS", "compare_partitions", "matching_positions"]

#: Below this many hashes (both lists together) the compare is one partition.
COMPARE_MIN_PARALLEL = 1 << 14
#: At most this many partitions (a 16-bit prefix selects them).
MAX_PARTITIONS = 1 << 12

_Part = tuple[list[bytes], list[int] | None, list[bytes]]


def compare_partitions(executor: Executor, n_probe: int, n_table: int) -> int:
    """The number of partitions for lists of these sizes (1 for small lists, and on local processes: a
    pool costs more than the lookup, 0.11 s against 0.017 s at 2^17 hashes a side on the 2-core machine)."""
    total = n_probe + n_table
    if total < COMPARE_MIN_PARALLEL or isinstance(executor, ProcessExecutor):
        return 1
    return max(1, min(executor.split(total), MAX_PARTITIONS))


def intersect_partition(part: _Part) -> list[int]:
    """The positions (ascending) of the probe hashes of one partition that are in its table.

    ``part`` is ``(probe hashes, their positions or None for 0..n-1, table hashes)``."""
    probe, positions, table = part
    lookup = set(table)
    if positions is None:
        return [i for i, h in enumerate(probe) if h in lookup]
    return [positions[j] for j, h in enumerate(probe) if h in lookup]


def _partitioned(probe: Sequence[bytes], table: Collection[bytes], p: int) -> list[_Part]:
    probes: list[list[bytes]] = [[] for _ in range(p)]
    positions: list[list[int]] = [[] for _ in range(p)]
    tables: list[list[bytes]] = [[] for _ in range(p)]
    for i, h in enumerate(probe):
        k = (h[0] << 8 | h[1]) * p >> 16
        probes[k].append(h)
        positions[k].append(i)
    for h in table:
        tables[(h[0] << 8 | h[1]) * p >> 16].append(h)
    return [(probes[k], positions[k], tables[k]) for k in range(p)]


def matching_positions(executor: Executor, probe: Sequence[bytes], table: Collection[bytes]) -> list[int]:
    """The positions ``i`` (ascending) with ``probe[i]`` in ``table``, computed by ``executor``.

    Every hash must be at least 2 bytes long (comparison hashes are 16)."""
    p = compare_partitions(executor, len(probe), len(table))
    parts: list[_Part] = [(list(probe), None, list(table))] if p == 1 else _partitioned(probe, table, p)
    found: list[int] = []
    for hits in executor.map(intersect_partition, (), parts):
        found.extend(hits)
    found.sort()
    return found
