"""In-process API example: two labs' sets, read from files, compared in one Python process.

    .venv/bin/python examples/api_example.py

Shows the layers a program uses directly: :class:`blindmatch.IndicatorSet` (reading indicator files,
canonicalizing, the PSI items and the way back to a local report), the bare PSI core
(``blindmatch.psi``) and an authenticated session (``blindmatch.session``) with its signed disclosure
records. Between two real labs the two parties run in different processes and the bytes travel over files
or TCP (see file_exchange.sh and tcp_exchange.sh); here a function call carries them.
"""

from __future__ import annotations

from pathlib import Path

from blindmatch import IndicatorSet
from blindmatch.psi import run_in_memory
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


def read_lab(path: Path) -> IndicatorSet:
    """Read a lab's file and canonicalize it; invalid rows are counted, not fatal, in this example."""
    s = IndicatorSet.from_files([path], errors="skip")
    invalid = sum(s.invalid.values())
    print(f"{path.name}: {s.rows} rows, {len(s)} distinct, {invalid} invalid")
    return s


def main() -> None:
    a, b = read_lab(DATA / "lab_a.csv"), read_lab(DATA / "lab_b.csv")

    # 1. The bare PSI core: items are byte strings (indicator_item() separates kinds); the set maps the
    #    matched ones back to its indicators and the rows that gave them.
    res_a, res_b = run_in_memory(a.psi_items().items, b.psi_items().items, mode="mutual")
    print(f"bare PSI (mutual): A sees {res_a.count} shared items, B sees {res_b.count}")
    per_kind = {k: len(v) for k, v in a.matches(res_a).by_kind().items()}
    print(f"  A's shared indicators per kind: {per_kind}")

    # 2. A session: identities, an agreed manifest, an encrypted and signed transcript, padding, records.
    lab_a, lab_b = Identity.generate(), Identity.generate()
    b_trusts = PeerStore()
    b_trusts.add("lab-a", lab_a.public)
    init = InitiatorSession(
        lab_a, lab_b.public, indicators=a.psi_items().indicators, mode="intersection",
        max_items=8192, padding="pow2", purpose="API example: indicators shared by lab A and lab B",
        peer_name="lab-b",
    )  # fmt: skip
    policy = Policy(modes=frozenset({"intersection"}), max_items_responder=8192)  # our public cap
    # Only the responder's items of the kinds the proposal names take part (selected, not re-encoded).
    resp = ResponderSession(lab_b, b_trusts, policy, indicators=b.psi_items().indicators)
    wire = run_session_in_memory(init, resp)
    result = init.result
    assert result is not None
    print(f"session: {len(wire)} messages, {sum(map(len, wire))} bytes on the wire")
    b_learned = resp.result.learned if resp.result else "-"
    print(f"  A learned {result.count} shared indicators; B learned: {b_learned}")
    print(f"  padded sizes: A showed {result.own_padded_size}, B showed {result.peer_padded_size}")

    # 3. A's local report: every matched row with its value as written and where it came from.
    report = a.report(result)
    for m in report.matches[:3]:
        print(f"  e.g. {m.kind}: {m.value.strip()!r} ({m.origin})")
    rec_a, rec_b = init.record(), resp.record()
    verify_record(rec_a, lab_a.public)
    verify_record(rec_b, lab_b.public)
    print(f"  signed records verify; transcript hash {rec_a['transcript_hash'][:16]}... on both sides: "
          f"{rec_a['transcript_hash'] == rec_b['transcript_hash']}")  # fmt: skip


if __name__ == "__main__":
    main()
