"""``InitiatorSession(audit=...)``: the terms go into the proposed manifest, survive a saved state, and
cannot contradict a manifest given whole."""

from __future__ import annotations

import hashlib

import pytest
from session_support import ALICE, BOB

from blindmatch import InvalidParameter
from blindmatch.session import AuditTerms, Identity, InitiatorSession, Manifest

AUDITOR = Identity.from_seed(hashlib.sha256(b"terms auditor").digest())
OTHER = Identity.from_seed(hashlib.sha256(b"other auditor").digest())


def test_audit_terms_in_the_manifest_and_the_saved_state() -> None:
    terms = AuditTerms(AUDITOR.public.raw, rate_ppm=2500, deadline_s=3 * 86400)
    init = InitiatorSession(ALICE, BOB.public, items=[b"x"], max_items=8, purpose="t", audit=terms)
    assert init.manifest is not None and init.manifest.audit == terms
    init.start()
    again = InitiatorSession.restore_state(init.save_state(), ALICE, BOB.public, items=[b"x"])
    assert again.manifest is not None and again.manifest.audit == terms
    # the same terms again with the saved manifest are fine (a caller passing its arguments unchanged)
    InitiatorSession.restore_state(init.save_state(), ALICE, BOB.public, items=[b"x"], audit=terms)


def test_audit_terms_cannot_contradict_a_given_manifest() -> None:
    m = Manifest.propose(initiator=ALICE.public, responder=BOB.public, mode="intersection", kinds=("bytes",),
                         max_items=8, purpose="t", audit=AuditTerms(AUDITOR.public.raw))  # fmt: skip
    with pytest.raises(InvalidParameter, match="audit terms differ"):
        InitiatorSession(ALICE, BOB.public, items=[b"x"], manifest=m, audit=AuditTerms(OTHER.public.raw))
