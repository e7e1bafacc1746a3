"""Published sets (docs/published-sets.md) against OpenMined PSI doing the same job.

* Publishing 2^20 email indicators (quick: 2^14) on one worker and on two: time, and file bytes per item
  without labels and with 32-byte labels. OpenMined's server side of the same job is its setup message
  (a Golomb-compressed set, GCS) at fpr 1e-9 for 2^10 client items; our tag length for the same false-
  positive rate is ``ceil(log2(n * 2^10 / 1e-9))`` bits, and the file's bytes per item are measured at that
  tag length (goal: at most OpenMined's GCS bytes per item) and at our default ``40 + log2(2n * 2^24)``.
* A verified query of 2^10 and 2^14 items against the 2^20 file (quick: against 2^14), one worker, through
  the real sans-I/O sessions (query, accept, request, response: signatures, sealing, proofs and all):
  querier and publisher time, bytes each way; setup excluded (parsing the file is shown on its own).
  OpenMined beside it: client request, server response, client intersection with the setup message.
  Goal: the verified 2^10 query under 1 s end to end.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks._common import Table
from blindmatch.psi import IndicatorItems
from blindmatch.published import (
    EpochKey,
    MemoryEvaluationBudget,
    PublishedFile,
    PublisherSession,
    QuerySession,
    build_file,
)
from blindmatch.published.tagset import bits_for
from blindmatch.session.identity import Identity
from blindmatch.session.peers import PeerStore

PUB = Identity.from_seed(bytes(range(32)))
QRY = Identity.from_seed(bytes(range(1, 33)))
FPR = 1e-9


def _emails(n: int, prefix: str) -> list[str]:
    return [f"{prefix}{i}@example.org" for i in range(n)]


def _key(tag_bits: int, label_bytes: int, now: int) -> EpochKey:
    return EpochKey.generate(
        PUB,
        "bench",
        not_before=now - 60,
        not_after=now + 86400,
        tag_bits=tag_bits,
        label_bytes=label_bytes,
        evaluations=1 << 24,
        canon_version=1,
    )


def _publish(
    items: IndicatorItems, tag_bits: int, label_bytes: int, workers: int
) -> tuple[bytes, EpochKey, float]:
    now = int(time.time())
    labels = {("email", v): {"campaign": "c7", "seen": 202611} for v in items.values("email")[:1000]}
    t0 = time.perf_counter()
    data, key = build_file(
        PUB,
        _key(tag_bits, label_bytes, now),
        items,
        labels=labels if label_bytes else None,
        padding="none",
        workers=workers,
    )
    return data, key, time.perf_counter() - t0


def _query(data: bytes, key: EpochKey, mine: IndicatorItems) -> dict[str, Any]:
    t0 = time.perf_counter()
    f = PublishedFile.from_bytes(data, publisher=PUB.public)
    setup = time.perf_counter() - t0
    peers = PeerStore()
    peers.add("q", QRY.public)
    q = QuerySession(QRY, PUB.public, [f], mine)
    p = PublisherSession(PUB, peers, [key], [f], budget=MemoryEvaluationBudget())
    tq = tp = 0.0
    up = down = 0
    t = time.perf_counter()
    msg: bytes | None = q.start()
    tq += time.perf_counter() - t
    while msg is not None:
        up += len(msg)
        t = time.perf_counter()
        reply = p.receive(msg)
        tp += time.perf_counter() - t
        if reply is None:
            break
        down += len(reply)
        t = time.perf_counter()
        msg = q.receive(reply)
        tq += time.perf_counter() - t
    if q.result is None:
        raise RuntimeError("the query did not complete")
    return {
        "setup": setup,
        "querier": tq,
        "publisher": tp,
        "up": up,
        "down": down,
        "matches": len(q.result.matches),
    }


def _openmined(server_items: list[str], client_items: list[str]) -> dict[str, Any]:
    import private_set_intersection.python as psi

    server = psi.server.CreateWithNewKey(True)
    client = psi.client.CreateWithNewKey(True)
    t0 = time.perf_counter()
    setup = server.CreateSetupMessage(FPR, len(client_items), server_items, psi.DataStructure.GCS)
    t1 = time.perf_counter()
    request = client.CreateRequest(client_items)
    t2 = time.perf_counter()
    response = server.ProcessRequest(request)
    t3 = time.perf_counter()
    got = client.GetIntersection(setup, response)
    t4 = time.perf_counter()
    return {
        "setup": t1 - t0,
        "querier": (t2 - t1) + (t4 - t3),
        "publisher": t3 - t2,
        "up": request.ByteSize(),
        "down": response.ByteSize(),
        "setup_bytes": setup.ByteSize(),
        "matches": len(got),
    }


def _mine(m: int) -> IndicatorItems:
    return IndicatorItems({"email": _emails(m // 2, "u") + _emails(m - m // 2, "nobody")})


def _om_size(items: list[str], client: int, fpr: float) -> float:
    """OpenMined's GCS setup message for ``items``, ``client`` lookups at ``fpr``: bytes per item."""
    import private_set_intersection.python as psi

    server = psi.server.CreateWithNewKey(True)
    return server.CreateSetupMessage(fpr, client, items, psi.DataStructure.GCS).ByteSize() / len(items)


def _size_table(
    n: int, published: IndicatorItems, om_first: dict[str, Any]
) -> tuple[Table, tuple[bytes, EpochKey]]:
    size = Table(
        f"Publishing {n:,} items: time and file bytes per item",
        [
            "file",
            "tag bits",
            "workers",
            "time (s)",
            "bytes/item",
            "OpenMined GCS bytes/item",
            "OpenMined fpr",
        ],
    )
    values: list[str] = list(published.values("email"))  # type: ignore[arg-type]
    same_bits = math.ceil(math.log2(n * (1 << 10) / FPR))
    ours_fpr = n * (1 << 10) / 2**same_bits  # what our whole-bit tags give: at most 1e-9
    om_matched = _om_size(values, 1 << 10, ours_fpr)
    default_bits = bits_for(2 * n, 1 << 24)
    labelled: tuple[bytes, EpochKey] | None = None
    for name, bits, label_bytes, workers, om, om_fpr in (
        ("no labels, same fpr as OpenMined's 1e-9 row", same_bits, 0, 1, om_first["setup_bytes"] / n, FPR),
        ("(the same file)", same_bits, 0, 1, om_matched, ours_fpr),
        ("no labels, default tags (2^-40 over Q = 2^24)", default_bits, 0, 2, None, None),
        ("48-byte labels, default tags", default_bits, 48, 2, None, None),
    ):
        if name.startswith("(the same"):
            size.add(name, bits, "", "", size.rows[-1][4], om, f"{om_fpr:.3g}")
            continue
        data, key, secs = _publish(published, bits, label_bytes, workers)
        if label_bytes:
            labelled = (data, key)
        size.add(
            name, bits, workers, secs, len(data) / n, om if om else "", f"{om_fpr:.3g}" if om_fpr else ""
        )
    if labelled is None:  # pragma: no cover
        raise RuntimeError("no labelled file")
    size.notes.append(
        f"OpenMined: 2^10 client lookups; its setup for {n:,} items took {om_first['setup']:.1f} s."
    )
    size.notes.append(
        "file bytes include the header and signature; labels are 48 + 16 (AEAD tag) bytes per item."
    )
    size.notes.append(
        "the second row compares at the false-positive rate our whole-bit tags give (n*2^10/2^t)."
    )
    return size, labelled


def run(quick: bool) -> list[Table]:
    n = 1 << 14 if quick else 1 << 20
    queries = [1 << 10] if quick else [1 << 10, 1 << 14]
    published = IndicatorItems({"email": _emails(n, "u")})
    values: list[str] = list(published.values("email"))  # type: ignore[arg-type]
    om_runs = {1 << 10: _openmined(values, list(_mine(1 << 10).values("email")))}  # type: ignore[arg-type]
    size, (data, key) = _size_table(n, published, om_runs[1 << 10])
    speed = Table(
        f"Verified query against {n:,} published items (one worker, setup excluded)",
        [
            "query items",
            "who",
            "setup (s)",
            "querier (s)",
            "publisher (s)",
            "end to end (s)",
            "bytes up",
            "bytes down",
            "matches",
        ],
    )
    for m in queries:
        mine = _mine(m)
        ours = _query(data, key, mine)
        theirs = om_runs.get(m) or _openmined(values, list(mine.values("email")))  # type: ignore[arg-type]
        for who, r in (("blindmatch (verified, labels)", ours), ("OpenMined PSI (GCS)", theirs)):
            speed.add(
                m,
                who,
                r["setup"],
                r["querier"],
                r["publisher"],
                r["querier"] + r["publisher"],
                r["up"],
                r["down"],
                r["matches"],
            )
    speed.notes.append(
        "blindmatch 'setup' is parsing and checking the signed file; OpenMined's is its server "
        "building the setup message (done once per client size)."
    )
    return [size, speed]
