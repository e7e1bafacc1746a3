"""In-process API example: two labs' sets, read from files, compared in one Python process.

    .venv/bin/python examples/api_example.py

Shows the layers a program uses directly: reading indicator files (``blindmatch.inputs``),
canonicalization, the bare PSI core (``blindmatch.psi``) and an authenticated session
(``blindmatch.session``) with its signed disclosure records. Between two real labs the two parties run
in different processes and the bytes travel over files or TCP (see file_exchange.sh and tcp_exchange.sh);
here a function call carries them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from blindmatch.canonical import canonicalize
from blindmatch.errors import InvalidIndicator
from blindmatch.inputs import read_indicators
from blindmatch.psi import indicator_item, run_in_memory
from blindmatch.session import (
    Identity,
    InitiatorSession,
    PeerStore,
    Policy,
    ResponderSession,
    run_session_in_memory,
    verify_record,
)

DATA = Path(__file__).resolve().parent / "data"


def canonical_by_kind(path: Path) -> dict[str, list[str]]:
    """Read a lab's file and canonicalize it; invalid rows are counted, not fatal, in this example."""
    batch = read_indicators(path)
    out: dict[str, set[str]] = defaultdict(set)
    invalid = 0
    for kind, value, _origin in batch.records:
        try:
            out[kind].add(canonicalize(kind, value))
        except InvalidIndicator:
            invalid += 1
    distinct = sum(map(len, out.values()))
    print(f"{path.name}: {len(batch.records)} rows, {distinct} distinct, {invalid} invalid")
    return {k: sorted(v) for k, v in out.items()}


def main() -> None:
    a, b = canonical_by_kind(DATA / "lab_a.csv"), canonical_by_kind(DATA / "lab_b.csv")

    # 1. The bare PSI core: items are byte strings; indicator_item() separates kinds.
    items_a = [indicator_item(k, v) for k, vs in a.items() for v in vs]
    items_b = [indicator_item(k, v) for k, vs in b.items() for v in vs]
    res_a, res_b = run_in_memory(items_a, items_b, mode="mutual")
    print(f"bare PSI (mutual): A sees {res_a.count} shared items, B sees {res_b.count}")

    # 2. A session: identities, an agreed manifest, an encrypted and signed transcript, padding, records.
    lab_a, lab_b = Identity.generate(), Identity.generate()
    b_trusts = PeerStore()
    b_trusts.add("lab-a", lab_a.public)
    init = InitiatorSession(
        lab_a, lab_b.public, items_by_kind=a, mode="intersection", max_items=8192, padding="pow2",
        purpose="API example: indicators shared by lab A and lab B", peer_name="lab-b",
    )  # fmt: skip
    policy = Policy(modes=frozenset({"intersection"}), max_items_responder=8192)  # our public cap
    resp = ResponderSession(lab_b, b_trusts, policy, items_by_kind=b)
    wire = run_session_in_memory(init, resp)
    result = init.result
    assert result is not None
    print(f"session: {len(wire)} messages, {sum(map(len, wire))} bytes on the wire")
    b_learned = resp.result.learned if resp.result else "-"
    print(f"  A learned {result.count} shared indicators; B learned: {b_learned}")
    print(f"  padded sizes: A showed {result.own_padded_size}, B showed {result.peer_padded_size}")
    for kind, canonical in (result.matched or [])[:3]:
        print(f"  e.g. {kind}: {canonical}")
    rec_a, rec_b = init.record(), resp.record()
    verify_record(rec_a, lab_a.public)
    verify_record(rec_b, lab_b.public)
    print(f"  signed records verify; transcript hash {rec_a['transcript_hash'][:16]}... on both sides: "
          f"{rec_a['transcript_hash'] == rec_b['transcript_hash']}")  # fmt: skip


if __name__ == "__main__":
    main()
