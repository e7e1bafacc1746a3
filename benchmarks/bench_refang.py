"""Cost of refanging (issue 13, item 2): reading a CSV of network indicators with and without it.

Each row times the same file read with ``refang=False`` and ``refang=True``: by ``read_indicators`` alone
(the reader, where refanging happens) and by ``IndicatorSet.from_files`` (read and canonicalize, what every
CLI command that reads inputs does). Two files: none of the values defanged (the common case: the cheap
test finds no marker), and 30% defanged (``hxxp://evil[.]example/...``, ``1.2.3[.]4``, ``a[at]b.example``).
Goal: refanging within 2x of reading without it.

Sizes: 100,000 rows of url, domain, ip and email, a quarter each (quick: 20,000).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from benchmarks._common import Table, best_time
from blindmatch import IndicatorSet, read_indicators


def _value(rng: random.Random, i: int, defang: bool) -> tuple[str, str]:
    kind = ("url", "domain", "ip", "email")[i % 4]
    host = f"h{rng.randrange(10**6)}.evil{i % 97}.example"
    if kind == "url":
        v = f"http://{host}/p/{rng.randrange(10**6)}.php?id={i}"
        return kind, v.replace("http", "hxxp", 1).replace(".", "[.]", 1) if defang else v
    if kind == "domain":
        return kind, host.replace(".", "[.]") if defang else host
    if kind == "ip":
        v = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        return kind, v.replace(".", "[.]", 1) if defang else v
    v = f"user{i}@{host}"
    return kind, v.replace("@", "[at]") if defang else v


def _write(path: Path, n: int, share: float) -> None:
    rng = random.Random(13)
    lines = ["kind,value"]
    for i in range(n):
        kind, value = _value(rng, i, rng.random() < share)
        lines.append(f"{kind},{value}")
    path.write_text("\n".join(lines) + "\n")


def run(quick: bool) -> list[Table]:
    n = 20_000 if quick else 100_000
    t = Table(
        f"Refanging: {n:,} CSV rows (url, domain, ip, email)",
        ["file", "step", "without refang (s)", "with refang (s)", "ratio", "goal", "met?"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, share in (("none defanged", 0.0), ("30% defanged", 0.3)):
            path = Path(tmp) / f"{int(share * 100)}.csv"
            _write(path, n, share)
            steps = (
                ("read_indicators", lambda r, p=path: read_indicators(p, refang=r)),
                (
                    "IndicatorSet.from_files",
                    lambda r, p=path: IndicatorSet.from_files([p], refang=r, errors="skip"),
                ),
            )
            for step, fn in steps:
                off, on = float("inf"), float("inf")
                for _ in range(3):  # interleaved, so that a burst of load on the machine hits both
                    off = min(off, best_time(lambda fn=fn: fn(False), repeat=3))
                    on = min(on, best_time(lambda fn=fn: fn(True), repeat=3))
                ratio = on / off
                t.add(label, step, off, on, round(ratio, 2), "<= 2x", "yes" if ratio <= 2 else "no")
    t.notes.append("best of 9 runs each, interleaved; the ratio is what the goal is about")
    return [t]
