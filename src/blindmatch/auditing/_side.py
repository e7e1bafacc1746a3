"""One side of an audit: its commitment, handshake, traffic keys, every PSI payload it sent (re-executed
from its committed seed and list against the peer's payloads as sent), its record and reuse."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..errors import BlindmatchError
from ..psi import Initiator as PsiInitiator
from ..psi import Mode, mode_spec
from ..psi import Responder as PsiResponder
from ..psi._wire import parse_request, parse_response
from ..session._seeded import dummies, ephemeral, psi_seed
from ..session.audit_package import AuditContents, OpenedPackage
from ..session.channel import T_ACCEPT, traffic_keys, x25519_shared
from ..session.commitment import opens
from ..session.errors import InvalidRecord
from ..session.identity import PublicIdentity
from ..session.padding import DUMMY_PREFIX, PADDING_RULES, padded_size
from ..session.record import verify_record
from ._transcript import Flow
from .findings import Finding

__all__ = ["SideAudit", "audit_side", "element_digest", "seed_digest"]

_SEED_DIGEST = b"blindmatch/audit/v1 seed digest\x00"
_ELEMENT_DIGEST = b"blindmatch/audit/v1 element digest\x00"
#: How many element digests of a side a report keeps (the smallest ones: a bottom-k sketch).
SKETCH = 64


def seed_digest(seed: bytes) -> bytes:
    """What an audit report keeps of a side's seed (to find it again in a later session, not to use it)."""
    return hashlib.sha256(_SEED_DIGEST + seed).digest()


def element_digest(element: bytes) -> bytes:
    return hashlib.sha256(_ELEMENT_DIGEST + element).digest()[:8]


@dataclass
class SideAudit:
    role: str
    findings: list[Finding] = field(default_factory=list)
    seed_digest: bytes | None = None
    sketch: list[bytes] = field(default_factory=list)
    count: int | None = None  # what an honest re-execution of this side learned (None: not reached)


def _gain(code: str, role: str, mode: str) -> str:
    count_only = mode_spec(mode).permuted
    if code == "foreign-scalar":
        if count_only and (role == "initiator" or mode == "mutual-cardinality"):
            return "in a count-only mode it could learn which of its items matched, not just how many"
        return "its blinding cannot be checked: it could probe items, skew its peer's result or link items"
    return {
        "set-substituted": "results about a set it did not commit to; its peer's result and record describe "
        "items the side never committed to",
        "dummies-replaced": "whether items it never committed to are in its peer's set",
        "dummies-not-dummies": "whether its extra, uncommitted-as-real items are in its peer's set",
        "forged-comparison-hashes": "the initiator's result is false (e.g. no matches); in the mutual modes "
        "the responder still learns its own result from the confirm",
        "false-confirm": "the responder's result is false while the initiator's is true",
        "commitment-mismatch": "its messages cannot be checked against anything it was bound to",
        "handshake-mismatch": "a session whose terms or keys are not those it committed to",
        "traffic-keys-mismatch": "a package whose plaintext cannot be trusted",
        "message-mismatch": "messages that are not the honest ones for its committed inputs",
        "record-invalid": "a record that does not show what it disclosed in this session",
        "record-claim-mismatch": "a signed record that misstates what was learned",
        "seed-reused": "linkable blinded items across sessions and a static-DH oracle for its peers",
        "scalar-reused": "linkable blinded items across sessions and a static-DH oracle for its peers",
        "transcript-mismatch": "a package that misstates what was sent",
    }.get(code, "")


def _classify(sent: list[bytes], honest: Mapping[bytes, bytes], real: set[bytes]) -> str | None:
    """Which kind of deviation ``sent`` (own blinded elements) is from ``honest`` (item -> element)."""
    got = set(sent)
    present_real = sum(1 for it, e in honest.items() if it in real and e in got)
    present_other = sum(1 for it, e in honest.items() if it not in real and e in got)
    n_real, n_other = len(real), len(honest) - len(real)
    if present_real == n_real and present_other == n_other:
        return None  # the same elements: the difference is elsewhere
    if present_real == 0 and present_other == 0:
        return "foreign-scalar"
    if present_real == n_real:
        return "dummies-replaced"
    return "set-substituted"


class _Side:
    def __init__(self, role: str, flow: Flow, package: OpenedPackage) -> None:
        self.role, self.flow, self.c = role, flow, package.contents
        self.package = package
        self.m = flow.manifest
        self.result = SideAudit(role, seed_digest=seed_digest(self.c.seed))
        self.sent_digests: set[bytes] = set()

    def find(self, code: str, index: int | None, detail: str) -> None:
        self.result.findings.append(
            Finding(code, self.role, index, detail, _gain(code, self.role, self.m.mode))
        )

    # -- the opening --------------------------------------------------------------------------------------
    def first_message(self) -> tuple[int, dict[str, Any]] | None:
        if self.role == "initiator":
            return 0, self.flow.hello
        if self.flow.accept is None:
            return None
        return 1, self.flow.accept

    def check_opening(self) -> bool:
        c, first = self.c, self.first_message()
        if first is None:
            return False  # a responder that refused: it committed to nothing
        index, doc = first
        sent = doc.get("commitment")
        if c.commitment is None or not isinstance(sent, str) or sent != c.commitment.hex():
            self.find("commitment-mismatch", index, "the package names another commitment than the one sent")
            return False
        if not opens(c.commitment, self.role, self.m.session_id, c.seed, c.padded):
            self.find("commitment-mismatch", index, "the commitment does not open to the package's seed "
                      "and padded list")  # fmt: skip
            return False
        items = list(c.items)
        bad = len(set(items)) != len(items) or any(it.startswith(DUMMY_PREFIX) for it in items)
        expected = (
            sorted(items + dummies(c.seed, len(c.padded) - len(items))) if len(c.padded) >= len(items) else []
        )
        if bad or list(c.padded) != expected:
            self.find("dummies-not-dummies", index, "the committed padded list is not the real items and the "
                      "seed's dummies")  # fmt: skip
        return True

    def check_handshake(self) -> tuple[bytes, bytes] | None:
        """The handshake values and the traffic keys the seed gives (None when there are none yet)."""
        first = self.first_message()
        if first is None:
            return None
        index, doc = first
        c, m = self.c, self.m
        secret, public = ephemeral(c.seed)
        if doc.get("ephemeral") != public.hex():
            self.find("handshake-mismatch", index, "the ephemeral key is not the one the seed gives")
        rule = m.padding if self.role == "initiator" else str(doc.get("padding"))
        n_padded = len(c.padded)
        if (
            rule not in PADDING_RULES
            or doc.get("padded_size") != n_padded
            or n_padded != padded_size(rule, len(c.items), m.cap_of(self.role))
        ):
            self.find("handshake-mismatch", index, f"the declared size is not the committed list padded by "
                      f"rule {rule!r}")  # fmt: skip
        if self.flow.accept is None:
            return None
        peer_doc = self.flow.accept if self.role == "initiator" else self.flow.hello
        try:
            shared = x25519_shared(secret, bytes.fromhex(str(peer_doc.get("ephemeral"))))
        except (ValueError, BlindmatchError):
            return None
        accept_index = next(i for i, msg in enumerate(self.flow.messages) if msg.header.msg_type == T_ACCEPT)
        keys = traffic_keys(shared, self.flow.hashes[accept_index])
        if c.traffic_keys is None or not all(
            hmac.compare_digest(a, b) for a, b in zip(keys, c.traffic_keys, strict=True)
        ):
            self.find("traffic-keys-mismatch", None, "the package's traffic keys are not the seed's")
        return keys

    # -- the PSI ------------------------------------------------------------------------------------------
    def reexecute(self, payloads: dict[int, bytes], peer_padded: int) -> None:
        data = [i for i, _, _ in self.flow.data()]
        own = list(self.c.padded)
        mode = cast("Mode", self.m.mode)
        seed = psi_seed(self.c.seed)
        real = set(self.c.items)
        try:
            if self.role == "initiator":
                self._initiator(data, payloads, own, mode, seed, real, peer_padded)
            else:
                self._responder(data, payloads, own, mode, seed, real, peer_padded)
        except BlindmatchError:
            return  # the peer's payload would have ended the session: the peer's side shows why

    def _initiator(self, data: list[int], pl: dict[int, bytes], own: list[bytes], mode: Mode, seed: bytes,
                   real: set[bytes], peer_padded: int) -> None:  # fmt: skip
        if not data:
            return
        psi = PsiInitiator(own, mode, seed=seed, max_peer_items=peer_padded)
        honest = psi.start()
        sent = pl[data[0]]
        self._sketch(parse_request(sent, 1 << 30).elements)
        if honest != sent:
            honest_el = dict(zip(psi._order, parse_request(honest, 1 << 30).elements, strict=True))
            code = _classify(parse_request(sent, 1 << 30).elements, honest_el, real) or "message-mismatch"
            self.find(code, data[0], "the request is not the honest request for the committed seed and items")
            return
        if len(data) < 2:
            return
        confirm = psi.finish(pl[data[1]])
        self.result.count = psi.result.count
        if len(data) >= 3 and confirm is not None and confirm != pl[data[2]]:
            self.find("false-confirm", data[2], "the confirm is not the honest answer to the response")

    def _responder(self, data: list[int], pl: dict[int, bytes], own: list[bytes], mode: Mode, seed: bytes,
                   real: set[bytes], peer_padded: int) -> None:  # fmt: skip
        if len(data) < 2:
            return
        request = pl[data[0]]
        psi = PsiResponder(own, allowed_modes=(mode,), seed=seed, max_peer_items=peer_padded)
        honest = psi.respond(request)
        sent = pl[data[1]]
        n_a = len(parse_request(request, 1 << 30).elements)
        sent_msg = parse_response(sent, len(own), n_a)
        self._sketch(sent_msg.elements)
        if honest != sent:
            honest_msg = parse_response(honest, len(own), n_a)
            honest_el = dict(zip(psi._order, honest_msg.elements, strict=True))
            code = _classify(sent_msg.elements, honest_el, real)
            if code is None:
                code = (
                    "forged-comparison-hashes" if sent_msg.hashes != honest_msg.hashes else "message-mismatch"
                )
            self.find(code, data[1], "the response is not the honest response for the committed seed and "
                      "items to the request received")  # fmt: skip
            return
        if mode_spec(mode).confirm:
            if len(data) >= 3:
                psi.finish(pl[data[2]])
                self.result.count = psi.result.count
        else:
            self.result.count = None

    def _sketch(self, elements: list[bytes]) -> None:
        self.sent_digests = {element_digest(e) for e in elements}
        self.result.sketch = sorted(self.sent_digests)[:SKETCH]

    # -- the record ---------------------------------------------------------------------------------------
    def check_record(self, record: Mapping[str, Any] | None, honest_done: bool) -> None:
        m = self.m
        key = m.initiator_key if self.role == "initiator" else m.responder_key
        if record is None:
            self.find("record-invalid", None, "no record of this side was given")
            return
        try:
            doc = verify_record(record, PublicIdentity(key), session_id=m.session_id)
        except InvalidRecord as exc:
            self.find("record-invalid", None, f"the record does not verify: {exc}")
            return
        if doc["role"] != self.role:
            self.find("record-invalid", None, "the record is the other role's")
            return
        if bytes.fromhex(str(doc["transcript_hash"])) not in self.flow.hashes:
            self.find(
                "record-invalid", None, "the record's transcript hash is not a point of this transcript"
            )
        audit = doc.get("audit")
        if not isinstance(audit, dict) or audit.get("package_sha256") != self.package.sha256.hex():
            self.find("record-invalid", None, "the record does not name this package's SHA-256")
        learned = doc["learned"][self.role]
        claim = learned.get("count")
        if honest_done and learned.get("learns") != "nothing" and doc["outcome"]["status"] == "completed":
            honest = self.result.count
            if honest is not None and claim != honest:
                self.find("record-claim-mismatch", None, f"the record claims {claim} shared items; an honest "
                          f"re-execution gives {honest}")  # fmt: skip


def audit_side(
    role: str,
    flow: Flow,
    package: OpenedPackage,
    record: Mapping[str, Any] | None,
    *,
    seen_seeds: Collection[bytes],
    seen_elements: Collection[bytes],
    peer_keys: Callable[[], tuple[bytes, bytes] | None],
) -> SideAudit:
    """Audit ``role``'s package against the verified ``flow``; ``peer_keys`` gives the peer's seed-derived
    traffic keys when ours are unusable."""
    side = _Side(role, flow, package)
    c: AuditContents = package.contents
    if c.session_id != flow.manifest.session_id:
        side.find("transcript-mismatch", None, "the package belongs to another session")
        return side.result
    if side.result.seed_digest in seen_seeds:
        side.find("seed-reused", None, "this seed was seen in an earlier audited session")
    honest_done = False
    if side.check_opening():
        keys = side.check_handshake() or peer_keys()
        if keys is not None:
            try:
                payloads = flow.payloads(keys)
            except ValueError:
                side.find("traffic-keys-mismatch", None, "the data messages do not open with the seed's keys")
                payloads = {}
            if payloads:
                n_before = len(side.result.findings)
                other = "responder" if role == "initiator" else "initiator"
                peer_padded = _declared(flow, other)
                side.reexecute(payloads, peer_padded)
                honest_done = len(side.result.findings) == n_before
                if side.sent_digests & set(seen_elements):
                    side.find("scalar-reused", None, "blinded elements of this side appeared in an earlier "
                              "audited session")  # fmt: skip
    side.check_record(record, honest_done)
    return side.result


def _declared(flow: Flow, role: str) -> int:
    doc = flow.hello if role == "initiator" else flow.accept
    size = doc.get("padded_size") if doc is not None else None
    return size if isinstance(size, int) and not isinstance(size, bool) else 0
