"""Write tests/vectors/session-transcripts-v2.json by running the session party classes on fixed inputs.

``python tests/vectors/make_session_vectors.py``. Every input is fixed: both Ed25519 identity seeds, each
party's one 32-byte seed (its ``rng`` returns it once), the manifest (session id, caps, padding, purpose,
validity, and ``library_version``, which is an input like the clock), the clock and the items. The file is
then checked independently by ``check_session_vectors.py`` (a rebuild from docs/sessions.md) and by
``tests/test_session_vectors.py``. Regenerating it is a protocol change: it needs a reason in the commit
message. The version-1 file (protocol ``blindmatch-session/1``) stays beside it for implementations of
that version; ``check_session_vectors.py`` still checks it, the party classes no longer speak it.

The disclosure records are deterministic given the clock and the writer's library version (Ed25519
signatures are deterministic); the generator pins that version to ``LIBRARY_VERSION`` while it runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import blindmatch.session.record as record_mod
from blindmatch._derive import derive_bytes
from blindmatch.psi import MODES
from blindmatch.session import (
    Identity,
    InitiatorSession,
    PeerStore,
    Policy,
    Refused,
    ResponderSession,
    SessionResult,
)
from blindmatch.session._seeded import LABEL_SESSION_ID
from blindmatch.session.manifest import Manifest

OUT = Path(__file__).with_name("session-transcripts-v2.json")

#: The library version the manifests propose and the records name (an input of the vectors).
LIBRARY_VERSION = "0.0.0+vectors"
CLOCK = 1_800_000_000  # 2027-01-15T08:00:00Z
VALIDITY_S = 3600
PURPOSE = "session test vectors v2"
INITIATOR_NAME = "lab-a"  # the responder's trust-store name for the initiator
ID_SEEDS = {
    "initiator": hashlib.sha256(b"blindmatch session vectors v1: initiator identity").digest(),
    "responder": hashlib.sha256(b"blindmatch session vectors v1: responder identity").digest(),
}
_EMAILS = [
    "alice@example.org", "bob@example.org", "carol@example.net", "dave@example.com", "erin@example.org",
    "frank@example.net", "grace@example.com",
]  # fmt: skip
# (name, mode, initiator padding, caps (initiator, responder), initiator e-mails, responder e-mails,
#  policy modes, policy paddings (the responder's own rules, in order of preference))
Case = tuple[str, str, str, tuple[int, int], list[int], list[int], tuple[str, ...], tuple[str, ...]]
_DEFAULT = ("pow2", "cap")
CASES: list[Case] = [
    *[(f"{m}/3x4-shared-2/none", m, "none", (8, 8), [0, 1, 2], [1, 2, 3, 4], MODES, ("none",))
      for m in MODES],
    ("intersection/3x5-shared-2/pow2", "intersection", "pow2", (8, 8), [0, 1, 2], [1, 2, 3, 4, 5], MODES,
     _DEFAULT),
    ("mutual/3x5-shared-1/pow2", "mutual", "pow2", (8, 8), [2, 0, 1], [5, 4, 3, 0, 6], MODES, _DEFAULT),
    ("intersection/3x5-shared-2/none-by-pow2", "intersection", "none", (8, 8), [0, 1, 2], [1, 2, 3, 4, 5],
     MODES, _DEFAULT),
    ("refuse/mutual-not-allowed", "mutual", "none", (8, 8), [0, 1, 2], [1, 2, 3, 4], ("intersection",),
     _DEFAULT),
]  # fmt: skip


def identities() -> dict[str, Identity]:
    return {role: Identity.from_seed(seed) for role, seed in ID_SEEDS.items()}


def once(seed: bytes) -> Callable[[int], bytes]:
    """An ``rng`` that returns the party seed once (a session party draws exactly one 32-byte seed)."""
    draws = [seed]

    def rng(n: int) -> bytes:
        if n != len(seed) or not draws:
            raise AssertionError("a session party draws only its one seed")
        return draws.pop()

    return rng


@contextmanager
def pinned_version() -> Iterator[None]:
    """Records name the writer's library version: pin it to ``LIBRARY_VERSION``."""
    old = record_mod.__version__
    record_mod.__version__ = LIBRARY_VERSION
    try:
        yield
    finally:
        record_mod.__version__ = old


def result_summary(r: SessionResult | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "role": r.role, "mode": r.mode, "learned": r.learned, "count": r.count,
        "matched": None if r.matched is None else [list(x) for x in r.matched],
        "matched_items": None if r.matched_items is None else [x.hex() for x in r.matched_items],
        "own_size": r.own_size, "own_padded_size": r.own_padded_size, "peer_padded_size": r.peer_padded_size,
        "transcript_hash": r.transcript_hash.hex(),
    }  # fmt: skip


def case_inputs(case: Case) -> dict[str, Any]:
    name, mode, padding, caps, xa, xb, modes, paddings = case
    ids = identities()
    initiator_seed = hashlib.sha256(f"session-vector/{name}/initiator".encode()).digest()
    manifest = Manifest(  # the session id an initiator proposes: derived from its seed (docs/sessions.md)
        session_id=derive_bytes(initiator_seed, LABEL_SESSION_ID, 16),
        mode=mode, kinds=("email",), max_items_initiator=caps[0], max_items_responder=caps[1],
        padding=padding, purpose=PURPOSE, not_before=CLOCK, not_after=CLOCK + VALIDITY_S,
        initiator_key=ids["initiator"].public.raw, responder_key=ids["responder"].public.raw,
        library_version=LIBRARY_VERSION,
    )  # fmt: skip
    return {
        "name": name,
        "clock": CLOCK,
        "initiator_seed": initiator_seed.hex(),
        "responder_seed": hashlib.sha256(f"session-vector/{name}/responder".encode()).hexdigest(),
        "manifest": manifest.to_dict(),
        "policy": {
            "modes": sorted(modes),
            "paddings": list(paddings),
            "max_items_responder": caps[1],
            "initiator_name": INITIATOR_NAME,
        },
        "initiator_items": {"email": [_EMAILS[i] for i in xa]},
        "responder_items": {"email": [_EMAILS[i] for i in xb]},
    }


def parties(v: dict[str, Any]) -> tuple[InitiatorSession, ResponderSession]:
    """The two session parties of vector ``v`` (its seeds, identities, manifest, policy, items, clock)."""
    ids = identities()
    clock = float(v["clock"])
    init = InitiatorSession(
        ids["initiator"], ids["responder"].public, items_by_kind=v["initiator_items"],
        manifest=Manifest.from_dict(v["manifest"]), rng=once(bytes.fromhex(v["initiator_seed"])),
        clock=lambda: clock,
    )  # fmt: skip
    peers = PeerStore()
    peers.add(v["policy"]["initiator_name"], ids["initiator"].public)
    pol = v["policy"]
    policy = Policy(modes=frozenset(pol["modes"]), paddings=tuple(pol["paddings"]),
                    max_items_responder=pol["max_items_responder"])  # fmt: skip
    resp = ResponderSession(
        ids["responder"], peers, policy, items_by_kind=v["responder_items"],
        rng=once(bytes.fromhex(v["responder_seed"])), clock=lambda: clock,
    )  # fmt: skip
    return init, resp


def run(v: dict[str, Any]) -> dict[str, Any]:
    """Run vector ``v``'s session; every wire message, both results and both records."""
    init, resp = parties(v)
    messages: list[dict[str, Any]] = []
    refusal = None
    with pinned_version():
        out: bytes | None = init.start()
        sender = "initiator"
        while out is not None:
            messages.append({"sender": sender, "hex": out.hex()})
            receiver = resp if sender == "initiator" else init
            try:
                out = receiver.receive(out)
            except Refused as exc:
                refusal = exc.reason  # the reason the refuse message carries
                out = None
            sender = "responder" if sender == "initiator" else "initiator"
        records = {"initiator_record": init.record(), "responder_record": resp.record()}
    return {
        "refusal_reason": refusal,
        "messages": messages,
        "initiator_result": result_summary(init.result),
        "responder_result": result_summary(resp.result),
        **records,
    }


def build() -> dict[str, Any]:
    ids = identities()
    return {
        "description": "blindmatch session transcripts (protocol blindmatch-session/2): fixed identities, "
        "party seeds, manifest, policy, clock and items; every wire message in full hex, in order, with its "
        "sender; both SessionResult summaries and both signed disclosure records (library version pinned to "
        f"{LIBRARY_VERSION!r}). Layout and derivations: docs/sessions.md, docs/protocol.md, "
        "docs/disclosure-record.md. Checker: check_session_vectors.py.",
        "library_version": LIBRARY_VERSION,
        "identities": {
            role: {"seed": ID_SEEDS[role].hex(), "public_key": ident.public.raw.hex()}
            for role, ident in ids.items()
        },
        "sessions": [{**(v := case_inputs(c)), **run(v)} for c in CASES],
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1) + "\n", "utf-8")
    print(f"wrote {OUT}")
