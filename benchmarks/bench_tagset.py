"""Published tag set (``blindmatch.published.tagset``): speed, size, and OpenMined PSI's GCS beside it.

* Ours, for 2^20 random t-bit tags (quick: 2^16): ``encode_tags`` time (from the sorted list of byte
  strings), ``TagSet.from_bytes`` time (parse, validate, decode), ``find`` time for 2^10 and 2^14 query
  tags (half members), bytes per tag, and bits per tag over the information bound ``t - log2(n)``.
* Beside it, OpenMined PSI's server setup message (``CreateSetupMessage(fpr, num_client_inputs, items,
  DataStructure.GCS)``, a Golomb-coded set) for the same n at the same false-positive rate. Its ``fpr`` is
  the chance of any false positive over ``num_client_inputs`` lookups, so our equivalent tag length is
  ``t = ceil(log2(n * num_client_inputs / fpr))``. Settings: fpr 1e-9 with 2^10 and 2^14 client inputs,
  and our default ``t = bits_for(n, Q) = 40 + log2(n * Q)`` with Q = 2^20 and 2^30 lookups over the file's
  life (OpenMined: fpr 2^-40, num_client_inputs Q).
* OpenMined's hash range is ``max(n, num_client_inputs) * num_client_inputs / fpr`` held in an int64:
  beyond 2^63 it no longer gives the rate asked for; the table shows the range it used (log2) and the
  rate that range gives (``n * Q / range``), and its setup time includes one EC encryption per item.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._common import Table, best_time
from blindmatch.published.tagset import TagSet, bits_for, encode_tags


def _tags(n: int, bits: int, seed: int) -> list[bytes]:
    """``n`` random distinct ``bits``-bit tags (fewer by the rare collisions), sorted."""
    nb = (bits + 7) // 8
    raw = np.random.default_rng(seed).integers(0, 256, size=(n, nb), dtype=np.uint8)
    raw[:, 0] &= (1 << (bits - 8 * (nb - 1))) - 1
    uniq = np.unique(raw.view(f"S{nb}").ravel())
    flat = uniq.view(np.uint8).tobytes()
    return [flat[i : i + nb] for i in range(0, len(flat), nb)]


def _queries(tags: list[bytes], count: int, bits: int) -> list[bytes]:
    """``count`` query tags: half of them members, half random (almost surely absent)."""
    rng = np.random.default_rng(count)
    members = [tags[int(i)] for i in rng.integers(0, len(tags), size=count // 2)]
    return members + _tags(count - count // 2, bits, count + 1)


def _settings(n: int) -> list[tuple[str, float, int, int]]:
    """``(label, OpenMined fpr, OpenMined num_client_inputs, our t)`` for each compared setting."""
    out = []
    for q in (1 << 10, 1 << 14):
        t = math.ceil(math.log2(n * q / 1e-9))
        out.append((f"fpr 1e-9, 2^{q.bit_length() - 1} client inputs", 1e-9, q, t))
    for q in (1 << 20, 1 << 30):
        out.append((f"default, Q = 2^{q.bit_length() - 1} lookups", 2.0**-40, q, bits_for(n, q)))
    return out


def _ours(n: int, bits: int, repeat: int) -> dict[str, Any]:
    tags = _tags(n, bits, bits)
    data = encode_tags(tags, bits)
    ts = TagSet.from_bytes(data, max_count=len(tags))
    small, large = _queries(tags, 1 << 10, bits), _queries(tags, 1 << 14, bits)
    if ts.find(small[:4]) != [tags.index(t) for t in small[:4]]:
        raise RuntimeError("TagSet.find gave a wrong rank")
    times: dict[str, Callable[[], object]] = {
        "encode": lambda: encode_tags(tags, bits),
        "decode": lambda: TagSet.from_bytes(data, max_count=len(tags)),
        "find10": lambda: ts.find(small),
        "find14": lambda: ts.find(large),
    }
    out: dict[str, Any] = {name: best_time(fn, repeat) for name, fn in times.items()}
    out.update(n=len(tags), bytes=len(data), k=data[6])
    return out


def _openmined(items: list[str], fpr: float, num_client_inputs: int) -> dict[str, Any]:
    import private_set_intersection.python as psi

    server = psi.server.CreateWithNewKey(True)
    t0 = time.perf_counter()
    setup = server.CreateSetupMessage(fpr, num_client_inputs, items, psi.DataStructure.GCS)
    seconds = time.perf_counter() - t0
    return {"bytes": len(setup.SerializeToString()), "range": int(setup.gcs.hash_range), "s": seconds,
            "version": psi.__version__}  # fmt: skip


def _range_columns(n: int, q: int, hash_range: int) -> tuple[str, str]:
    """log2 of OpenMined's hash range, and the false-positive rate over q lookups that it gives."""
    if hash_range <= 0:  # the double -> int64 conversion overflowed (x86 gives -2^63)
        return "-2^63 (int64 overflow)", f"{min(1.0, n * q / 2**63):.2e} if read as 2^63"
    return f"{math.log2(hash_range):.1f}", f"{min(1.0, n * q / hash_range):.2e}"


def run(quick: bool) -> list[Table]:
    n = 1 << (16 if quick else 20)
    repeat = 3
    speed = Table(
        f"Published tag set: {n:,} random tags (blindmatch.published.tagset)",
        ["t bits", "k", "encode s", "from_bytes s", "find 2^10 s", "find 2^14 s", "B/tag", "bits/tag",
         "bits over t - log2 n"],
    )  # fmt: skip
    size = Table(
        f"Published set size against OpenMined PSI's GCS setup message, {n:,} items",
        ["setting", "ours t", "ours B/item", "OpenMined B/item", "ours / OpenMined", "OpenMined range log2",
         "OpenMined fpr over Q", "OpenMined setup s"],
    )  # fmt: skip
    raw = np.random.default_rng(n).bytes(16 * n)
    items = [raw[i : i + 16].hex() for i in range(0, 16 * n, 16)]  # OpenMined's server items
    version = "?"
    for label, fpr, q, bits in _settings(n):
        ours = _ours(n, bits, repeat)
        per = ours["bytes"] / ours["n"]
        speed.add(bits, ours["k"], ours["encode"], ours["decode"], ours["find10"], ours["find14"], per,
                  8 * per, 8 * per - (bits - math.log2(ours["n"])))  # fmt: skip
        peer = _openmined(items, fpr, q)
        version = peer["version"]
        peer_per = peer["bytes"] / n
        ratio = f"{per / peer_per:.3f}"
        size.add(label, bits, per, peer_per, ratio, *_range_columns(n, q, peer["range"]), peer["s"])
    speed.notes += [
        f"best of {repeat}; encode starts from the sorted list of byte strings, from_bytes parses, checks "
        "and decodes the whole file, find looks up a list of query tags (half members)",
        "bits over t - log2 n: the Golomb-Rice overhead over the information bound (about 1.5 expected)",
    ]
    size.notes += [
        f"OpenMined PSI {version}: len(CreateSetupMessage(fpr, Q, items, GCS).SerializeToString()), one run; "
        "its setup time includes one EC encryption per item",
        "ours t = ceil(log2(n * Q / fpr)) for OpenMined's fpr over Q client inputs; default rows: "
        "t = bits_for(n, Q) = 40 + ceil(log2(n * Q)), OpenMined asked for fpr 2^-40 over Q inputs",
        "OpenMined's hash range max(n, Q) * Q / fpr is an int64: past 2^63 its rate is not the one asked for",
    ]
    return [speed, size]
