"""Audits (issue 12, docs/audit.md): what commitments and audit packages cost a session, and what an
audit costs the auditor.

Sessions of 2^14 items per side (quick: 2^10; a quarter shared, padding pow2 so no dummies), in-memory,
``workers=1``, audited (``AuditTerms``) with the responder's ``Policy(auditor=...)``. Times are CPU seconds
of this process (``time.process_time``), best of the runs. Per side, the session time is the CPU of that
party's own calls (its constructor, ``start`` and every ``receive``).

- **Commitment overhead.** Every session commits (audited or not), so there is no session without
  commitments to compare with: the commitment itself is timed (``blindmatch.session.commitment.commitment``
  over the side's padded list, as the party computes it for its first message) and so is sealing the
  side's audit package (``seal_package`` of the contents the party sealed), against the whole session
  (both sides). Goal: under 2%.
- **Audit vs re-run.** ``blindmatch.audit`` of one side (that side's package and both records: it opens
  the package, verifies the transcript, opens the commitment and re-executes every payload the side
  sent) against the CPU that side spent in the session, and the audit of both sides against the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import Table
from blindmatch import audit
from blindmatch.psi import indicator_item
from blindmatch.session import (
    AuditTerms,
    Identity,
    InitiatorSession,
    PeerStore,
    Policy,
    ResponderSession,
    open_package,
)
from blindmatch.session.audit_package import seal_package
from blindmatch.session.commitment import commitment


def _sets(n: int) -> tuple[list[bytes], list[bytes]]:
    shared = n // 4
    a = [f"a{i}@lab-a.example" for i in range(n - shared)] + [f"s{i}@both.example" for i in range(shared)]
    b = [f"b{i}@lab-b.example" for i in range(n - shared)] + [f"s{i}@both.example" for i in range(shared)]
    return [indicator_item("email", v) for v in a], [indicator_item("email", v) for v in b]


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


class _Run:
    """One audited session, with each side's CPU time."""

    def __init__(self, alice: Identity, bob: Identity, peers: PeerStore, auditor: Identity,
                 ia: list[bytes], ib: list[bytes], mode: str) -> None:  # fmt: skip
        terms = AuditTerms(auditor.public.raw)
        cpu = {"initiator": 0.0, "responder": 0.0}
        self.init, cpu["initiator"] = _cpu(
            lambda: InitiatorSession(
                alice, bob.public, items=ia, mode=mode, max_items=1 << 20, purpose="benchmark", audit=terms
            )
        )
        self.resp, cpu["responder"] = _cpu(
            lambda: ResponderSession(bob, peers, Policy(auditor=auditor.public.raw), items=ib)
        )
        msg, t = _cpu(self.init.start)
        cpu["initiator"] += t
        parties = {"initiator": self.init, "responder": self.resp}
        to = "responder"
        while msg is not None:
            msg, t = _cpu(lambda m=msg, p=parties[to]: p.receive(m))  # type: ignore[misc]
            cpu[to] += t
            to = "initiator" if to == "responder" else "responder"
        if self.init.result is None or not self.init.done or not self.resp.done:
            raise RuntimeError("the audited session did not complete")
        self.cpu = cpu
        packages = {"initiator": self.init.audit_package(), "responder": self.resp.audit_package()}
        if any(p is None for p in packages.values()):
            raise RuntimeError("an audited session made no package")
        self.packages: dict[str, bytes] = {k: v for k, v in packages.items() if v is not None}
        self.records = [self.init.record(), self.resp.record()]


def _best(fn: Callable[[], Any], repeat: int) -> float:
    return min(_cpu(fn)[1] for _ in range(repeat))


def run(quick: bool) -> list[Table]:
    exps = [10] if quick else [12, 14]
    modes = ["intersection", "mutual"]
    repeat = 2 if quick else 3
    alice, bob, auditor = Identity.generate(), Identity.generate(), Identity.generate()
    peers = PeerStore()
    peers.add("alice", alice.public)
    cost = Table(
        "Commitments and audit packages: their cost within an audited session (workers=1, CPU seconds)",
        ["per side", "mode", "session s (both sides)", "commitments s (both)", "commitment share",
         "sealing s (both)", "sealing share", "package B (per side)"],
    )  # fmt: skip
    audits = Table(
        "Auditing a session vs running it (workers=1, CPU seconds)",
        ["per side", "mode", "side", "side's session s", "audit of the side s", "ratio",
         "audit of both s", "ratio to the session"],
    )  # fmt: skip
    for e in exps:
        n = 1 << e
        ia, ib = _sets(n)
        for mode in modes:
            runs = [_Run(alice, bob, peers, auditor, ia, ib, mode) for _ in range(repeat)]
            best = min(runs, key=lambda r: sum(r.cpu.values()))
            session = sum(best.cpu.values())
            side_cpu = {role: min(r.cpu[role] for r in runs) for role in ("initiator", "responder")}
            opened = {role: open_package(pkg, auditor) for role, pkg in best.packages.items()}
            commit_s = seal_s = 0.0
            for role, pkg in opened.items():
                c = pkg.contents
                commit_s += _best(
                    lambda c=c, role=role: commitment(role, c.session_id, c.seed, c.padded), repeat
                )
                author = alice if role == "initiator" else bob
                seal_s += _best(lambda c=c, author=author: seal_package(author, auditor.public, c), repeat)
            size = max(len(p) for p in best.packages.values())
            cost.add(f"2^{e}", mode, session, commit_s, f"{100 * commit_s / session:.3f}%", seal_s,
                     f"{100 * seal_s / session:.2f}%", size)  # fmt: skip
            both = _best(lambda b=best: audit(auditor, list(b.packages.values()), b.records), repeat)
            for role in ("initiator", "responder"):
                one = _best(lambda b=best, r=role: audit(auditor, [b.packages[r]], b.records), repeat)
                audits.add(f"2^{e}", mode, role, side_cpu[role], one, f"{one / side_cpu[role]:.2f}x",
                           both, f"{both / session:.2f}x")  # fmt: skip
            report = audit(auditor, list(best.packages.values()), best.records)
            if not report.clean:
                raise RuntimeError(f"an honest session did not audit clean: {report.findings}")
    cost.notes.append(
        "commitments: `commitment(role, session_id, seed, padded)` of both sides, as each party computes it "
        "for its first message (every session, audited or not); sealing: `seal_package` of both sides' "
        "contents (audited sessions only); shares: of the whole session, both sides (goal for the "
        "commitment: under 2%)."
    )
    audits.notes.append(
        "side's session: the CPU of that party's own calls in the session; audit of the side: "
        "`blindmatch.audit` with that side's package and both records (open, verify the transcript, open "
        "the commitment, re-execute every payload the side sent); ratio: audit / the side's session. "
        "audit of both: both packages at once, against the whole session (both sides)."
    )
    return [cost, audits]
