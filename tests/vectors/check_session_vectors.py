"""Rebuild every message, result and record of tests/vectors/session-transcripts-v*.json from the spec.

Run it: ``python tests/vectors/check_session_vectors.py [path.json]`` (needs blindmatch installed). It
reads both protocol versions: ``blindmatch-session/1`` (one padding rule for both sides, record version
1) and ``blindmatch-session/2`` (the responder pads its own set by its policy and names the rule in its
accept, and each side commits to its seed and padded list in its first message, docs/audit.md; record
version 2); the manifest's ``protocol`` says which. It uses
``cryptography``'s Ed25519, X25519, HKDF and ChaCha20-Poly1305 directly, ``blindmatch._derive`` (the seed
derivations) and, for the PSI payloads inside the data messages, ``check_psi_vectors.py`` (which itself
uses only ``blindmatch.hazmat`` and a hand-written layout). It does not use the session party classes,
``blindmatch.session.channel`` or any other session module: the frame, the JSON bodies, the transcript
chain, the key schedule, padding, results and disclosure records are written out below from
docs/sessions.md and docs/disclosure-record.md. Another implementation can port this file to debug itself
against the same vectors: on a mismatch it names the first differing message and byte.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import struct
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from blindmatch._derive import derive_bytes, derive_key

VECTORS = Path(__file__).with_name("session-transcripts-v2.json")
_PSI_CHECKER = Path(__file__).with_name("check_psi_vectors.py")
_psi_spec = importlib.util.spec_from_file_location("check_psi_vectors", _PSI_CHECKER)
assert _psi_spec is not None and _psi_spec.loader is not None
psi = importlib.util.module_from_spec(_psi_spec)
_psi_spec.loader.exec_module(psi)

# docs/sessions.md, "Messages", "Seeded randomness", "Key schedule", "Padding and caps"
MAGIC, WIRE_VERSION = b"BMS1", 1
T_HELLO, T_ACCEPT, T_REFUSE, T_DATA = 1, 2, 3, 4
ROLE = {"initiator": 0, "responder": 1}
SIG_CONTEXT = b"blindmatch-session/1 message\x00"
TRANSCRIPT_LABEL = b"blindmatch-session/1 transcript"
KEYS_INFO = b"blindmatch-session/1 traffic keys i2r r2i"
LABEL_EPHEMERAL = b"blindmatch/session/v1 ephemeral"
LABEL_DUMMY = b"blindmatch/session/v1 dummy"
LABEL_PSI = b"blindmatch/session/v1 psi seed"
LABEL_SESSION_ID = b"blindmatch/session/v1 session id"
DUMMY_PREFIX = b"\x00blindmatch/v1/session-dummy\x00"
# docs/protocol.md, "Items"; docs/canonicalization.md (canonicalization version 1)
ITEM_PREFIX, CANON_VERSION = b"blindmatch/psi-item/v1\x00", 1
# docs/disclosure-record.md
RECORD_CONTEXT = b"blindmatch-record/v1\x00"
FP_LABEL = b"blindmatch/v1/identity-fingerprint"
KEY_PREFIX = "blindmatch-ed25519:"
PROTOCOLS = ("blindmatch-session/1", "blindmatch-session/2")
CHANNEL_SUITE = "ed25519/x25519/hkdf-sha256/chacha20poly1305"
PSI_SUITE = psi.SUITE.decode("ascii")
LEARNS = {  # mode: (what the initiator learns, what the responder learns)
    "intersection": ("intersection", "nothing"),
    "mutual": ("intersection", "intersection"),
    "cardinality": ("count", "nothing"),
    "mutual-cardinality": ("count", "count"),
}


def canonical_json(value: Any) -> bytes:
    """Keys sorted, separators ``,`` and ``:``, ASCII with ``\\uXXXX`` escapes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def indicator_item(kind: str, value: str) -> bytes:
    k, v = kind.encode("utf-8"), value.encode("utf-8")
    return ITEM_PREFIX + bytes([CANON_VERSION, len(k)]) + k + struct.pack(">I", len(v)) + v


def own_items(items_by_kind: dict[str, list[str]], kinds: list[str]) -> list[tuple[bytes, str, str]]:
    """Distinct items of the manifest's kinds (in the manifest's kind order, then the given order)."""
    seen: set[bytes] = set()
    out = []
    for kind in kinds:
        for value in items_by_kind.get(kind, []):
            it = indicator_item(kind, value)
            if it not in seen:
                seen.add(it)
                out.append((it, kind, value))
    return out


def version_of(m: dict[str, Any]) -> int:
    """The session protocol version a manifest names (1 or 2)."""
    if m["protocol"] not in PROTOCOLS:
        raise ValueError(f"unknown protocol {m['protocol']!r}")
    return PROTOCOLS.index(m["protocol"]) + 1


def responder_rule(v: dict[str, Any]) -> str:
    """Version 1: the manifest's rule for both sides. Version 2: the proposed rule when the responder's
    policy lists it, else the policy's first rule."""
    proposed, allowed = v["manifest"]["padding"], v["policy"].get("paddings")
    if version_of(v["manifest"]) == 1:
        return str(proposed)
    return str(proposed if proposed in allowed else allowed[0])


def commitment(role: str, session_id: bytes, seed: bytes, padded: list[bytes]) -> str:
    """docs/audit.md, "The commitment" (protocol 2)."""
    root = hashlib.sha256(b"blindmatch/audit/v1 items\x00" + len(padded).to_bytes(8, "big"))
    for it in sorted(padded):
        root.update(len(it).to_bytes(4, "big") + it)
    salt = derive_key(seed, b"blindmatch/audit/v1 commitment salt")
    h = hashlib.sha256(b"blindmatch/audit/v1 commitment\x00" + bytes([ROLE[role]]) + session_id + salt + seed)
    h.update(root.digest())
    return h.hexdigest()


def padded_size(rule: str, n: int, cap: int) -> int:
    if rule == "none":
        return n
    if rule == "cap":
        return cap
    return min(cap, 1 if n <= 1 else 1 << (n - 1).bit_length())


def dummies(seed: bytes, count: int) -> list[bytes]:
    return [DUMMY_PREFIX + derive_key(seed, LABEL_DUMMY, i) for i in range(count)]


def fingerprint(public: bytes) -> str:
    text = base64.b32encode(hashlib.sha256(FP_LABEL + public).digest()[:20]).decode("ascii").lower()
    return "-".join(text[i : i + 4] for i in range(0, 32, 4))


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Side:
    """One party's view while the transcript is rebuilt: identity, seed, counters."""

    def __init__(self, role: str, id_seed: bytes, seed: bytes) -> None:
        self.role = role
        self.key = Ed25519PrivateKey.from_private_bytes(id_seed)
        self.public = self.key.public_key().public_bytes_raw()
        self.seed = seed
        self.ephemeral = X25519PrivateKey.from_private_bytes(derive_key(seed, LABEL_EPHEMERAL))
        self.sent = self.received = 0


class Transcript:
    def __init__(self, session_id: bytes) -> None:
        self.session_id = session_id
        self.hash = hashlib.sha256(TRANSCRIPT_LABEL).digest()
        self.messages: list[tuple[str, bytes]] = []

    def send(self, side: Side, peer: Side, msg_type: int, body: bytes, key: bytes | None = None) -> bytes:
        """Frame (header, body or AEAD ciphertext, signature), absorb it and count its bytes."""
        seq = len(self.messages)
        body_len = len(body) + 16 if key is not None else len(body)
        header = MAGIC + struct.pack(
            ">BBBBI16s32s32sI", WIRE_VERSION, msg_type, ROLE[side.role], 0, seq, self.session_id, self.hash,
            side.public, body_len,
        )  # fmt: skip
        if key is not None:
            counter = sum(1 for s, m in self.messages if s == side.role and m[5] == T_DATA)
            body = ChaCha20Poly1305(key).encrypt(bytes(4) + counter.to_bytes(8, "big"), body, header)
        wire = header + body + side.key.sign(SIG_CONTEXT + header + body)
        h = hashlib.sha256(self.hash)
        h.update(len(wire).to_bytes(8, "big") + wire)
        self.hash = h.digest()
        self.messages.append((side.role, wire))
        side.sent += len(wire)
        peer.received += len(wire)
        return wire


def session_result(
    role: str, mode: str, own: list[tuple[bytes, str, str]], padded: tuple[int, int], psi_res: dict[str, Any],
    thash: bytes,
) -> dict[str, Any]:  # fmt: skip
    learned = LEARNS[mode][0 if role == "initiator" else 1]
    count: int | None = None
    matched = matched_items = None
    if learned != "nothing":
        count = psi_res["count"]
    if learned == "intersection":  # the PSI's matches (own input order), dummies and repeats removed
        back = {it: [kind, value] for it, kind, value in own}
        hits = [bytes.fromhex(x) for x in psi_res["matched"]]
        real = [it for i, it in enumerate(hits) if not it.startswith(DUMMY_PREFIX) and it not in hits[:i]]
        matched_items, matched, count = [x.hex() for x in real], [back[x] for x in real], len(real)
    return {
        "role": role, "mode": mode, "learned": learned, "count": count, "matched": matched,
        "matched_items": matched_items, "own_size": len(own), "own_padded_size": padded[0],
        "peer_padded_size": padded[1], "transcript_hash": thash.hex(),
    }  # fmt: skip


def record(
    v: dict[str, Any], me: Side, peer: Side, t: Transcript, padded: dict[str, int | None],
    result: dict[str, Any] | None, outcome: tuple[str, str | None, str | None], library: str,
) -> dict[str, Any]:  # fmt: skip
    """The signed disclosure record ``me`` writes (docs/disclosure-record.md)."""
    m = v["manifest"]
    version = version_of(m)
    padding: Any = m["padding"]
    if version == 2:  # each side's rule; the responder's is unknown without an accept
        padding = {"initiator": m["padding"], "responder": responder_rule(v) if result is not None else None}
    learned = {}
    for i, role in enumerate(("initiator", "responder")):
        what = LEARNS[m["mode"]][i]
        count = None
        if result is not None and what != "nothing" and (role == me.role or m["mode"].startswith("mutual")):
            count = result["count"]  # the peer's count, in the mutual modes, is the one we computed
        learned[role] = {"learns": what, "count": count}
    body = {
        "format": "blindmatch-disclosure-record", "version": version, "role": me.role,
        "session_id": m["session_id"],
        "self": {"fingerprint": fingerprint(me.public), "public_key": KEY_PREFIX + me.public.hex()},
        "peer": {
            "fingerprint": fingerprint(peer.public), "public_key": KEY_PREFIX + peer.public.hex(),
            "name": v["policy"]["initiator_name"] if me.role == "responder" else None,
        },
        "purpose": m["purpose"], "mode": m["mode"], "kinds": m["kinds"], "padding": padding,
        "caps": m["max_items"], "padded_sizes": padded, "learned": learned,
        "own_set_sent": result is not None, "transcript_hash": t.hash.hex(), "messages": len(t.messages),
        "wire_bytes": {"sent": me.sent, "received": me.received},
        "times": {
            "started": iso(v["clock"]), "ended": iso(v["clock"]),
            "not_before": iso(m["validity"]["not_before"]), "not_after": iso(m["validity"]["not_after"]),
        },
        "versions": {
            "library": library, "protocol": m["protocol"], "channel_suite": CHANNEL_SUITE,
            "psi_suite": PSI_SUITE,
            "peer_library": m["library_version"] if me.role == "responder" else None,
        },
        "outcome": {"status": outcome[0], "error": outcome[1], "reason": outcome[2]},
    }  # fmt: skip
    if version == 2:
        body["audit"] = None  # the vectors' sessions name no auditor
    sig = me.key.sign(RECORD_CONTEXT + canonical_json(body))
    body["signature"] = {
        "algorithm": "ed25519", "public_key": KEY_PREFIX + me.public.hex(),
        "fingerprint": fingerprint(me.public), "value": base64.b64encode(sig).decode("ascii"),
    }  # fmt: skip
    return body


def rebuild(doc: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
    """Every wire message, both results and both records of session ``v``, from its inputs alone."""
    ids = doc["identities"]
    i = Side("initiator", bytes.fromhex(ids["initiator"]["seed"]), bytes.fromhex(v["initiator_seed"]))
    r = Side("responder", bytes.fromhex(ids["responder"]["seed"]), bytes.fromhex(v["responder_seed"]))
    m = v["manifest"]
    mode, rule, caps = m["mode"], m["padding"], m["max_items"]
    # the manifest's session id is the initiator's first derivation (docs/sessions.md)
    sid = derive_bytes(i.seed, LABEL_SESSION_ID, 16)
    if sid.hex() != m["session_id"]:
        raise ValueError(f"the manifest's session id is not derived from the initiator's seed: {sid.hex()}")
    t = Transcript(sid)
    a = own_items(v["initiator_items"], m["kinds"])
    b = own_items(v["responder_items"], m["kinds"])
    rule_r = responder_rule(v)
    na, nb = padded_size(rule, len(a), caps["initiator"]), padded_size(rule_r, len(b), caps["responder"])
    eph = {s.role: s.ephemeral.public_key().public_bytes_raw().hex() for s in (i, r)}
    a_padded = [x[0] for x in a] + dummies(i.seed, na - len(a))
    b_padded = [y[0] for y in b] + dummies(r.seed, nb - len(b))
    v2 = version_of(m) == 2
    hello: dict[str, Any] = {"manifest": m, "ephemeral": eph["initiator"], "padded_size": na}
    if v2:
        hello["commitment"] = commitment("initiator", sid, i.seed, a_padded)
    t.send(i, r, T_HELLO, canonical_json(hello))
    reason = v["refusal_reason"]
    if reason is not None:  # the responder's policy refuses the manifest: a signed refuse, the end
        t.send(r, i, T_REFUSE, canonical_json({"reason": reason}))
        out = {"messages": t.messages, "initiator_result": None, "responder_result": None}
        out["initiator_record"] = record(
            v, i, r, t, {"initiator": na, "responder": None}, None,
            ("refused", "Refused", "the responder refused the session: " + reason), doc["library_version"],
        )  # fmt: skip
        out["responder_record"] = record(
            v, r, i, t, {"initiator": na, "responder": None}, None, ("refused", None, reason),
            doc["library_version"],
        )  # fmt: skip
        return out
    accept: dict[str, Any] = {"ephemeral": eph["responder"], "padded_size": nb}
    if v2:
        accept["padding"] = rule_r
        accept["commitment"] = commitment("responder", sid, r.seed, b_padded)
    t.send(r, i, T_ACCEPT, canonical_json(accept))
    shared = i.ephemeral.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(eph["responder"])))
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=t.hash, info=KEYS_INFO).derive(shared)
    k_i2r, k_r2i = okm[:32], okm[32:]
    core = psi.rebuild({
        "mode": mode, "initiator_seed": derive_key(i.seed, LABEL_PSI).hex(),
        "responder_seed": derive_key(r.seed, LABEL_PSI).hex(),
        "initiator_items": [x.hex() for x in a_padded], "responder_items": [y.hex() for y in b_padded],
    })  # fmt: skip
    t.send(i, r, T_DATA, bytes.fromhex(core["request"]), k_i2r)
    t.send(r, i, T_DATA, bytes.fromhex(core["response"]), k_r2i)
    if core["confirm"] is not None:
        t.send(i, r, T_DATA, bytes.fromhex(core["confirm"]), k_i2r)
    res_i = session_result("initiator", mode, a, (na, nb), core["initiator_result"], t.hash)
    res_r = session_result("responder", mode, b, (nb, na), core["responder_result"], t.hash)
    padded: dict[str, int | None] = {"initiator": na, "responder": nb}
    done = ("completed", None, None)
    return {
        "messages": t.messages, "initiator_result": res_i, "responder_result": res_r,
        "initiator_record": record(v, i, r, t, padded, res_i, done, doc["library_version"]),
        "responder_record": record(v, r, i, t, padded, res_r, done, doc["library_version"]),
    }  # fmt: skip


def differences(doc: dict[str, Any], v: dict[str, Any]) -> list[str]:
    """What differs between session ``v`` as stored and as rebuilt (empty: it matches byte for byte)."""
    got = rebuild(doc, v)
    out: list[str] = []
    stored = [(x["sender"], bytes.fromhex(x["hex"])) for x in v["messages"]]
    if len(stored) != len(got["messages"]):
        out.append(f"{len(stored)} messages stored, {len(got['messages'])} rebuilt")
    for n, ((s1, w1), (s2, w2)) in enumerate(zip(stored, got["messages"], strict=False)):
        if (s1, w1) != (s2, w2):
            diff = (k for k, (x, y) in enumerate(zip(w1, w2, strict=False)) if x != y)
            at = next(diff, min(len(w1), len(w2)))
            out.append(
                f"message {n} ({s1}): first difference at byte {at} ({len(w1)} stored, {len(w2)} rebuilt)"
            )
    for f in ("initiator_result", "responder_result", "initiator_record", "responder_record"):
        if got[f] != v[f]:
            keys = sorted(set(got[f] or {}) | set(v[f] or {}))
            out.append(f"{f}: " + ", ".join(k for k in keys if (got[f] or {}).get(k) != (v[f] or {}).get(k)))
    return out


def check_identities(doc: dict[str, Any]) -> list[str]:
    bad = []
    for role, ident in doc["identities"].items():
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(ident["seed"]))
        pub = key.public_key().public_bytes_raw()
        if pub.hex() != ident["public_key"]:
            bad.append(f"identity {role}: public key does not belong to its seed")
    return bad


def check(path: Path = VECTORS) -> list[str]:
    """Names of the sessions whose rebuilt messages, results or records differ (empty: all match)."""
    doc = json.loads(path.read_text("utf-8"))
    bad = ["identities"] if check_identities(doc) else []
    return bad + [v["name"] for v in doc["sessions"] if differences(doc, v)]


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else VECTORS
    doc = json.loads(path.read_text("utf-8"))
    n, ok = len(doc["sessions"]), 0
    for line in check_identities(doc):
        print(f"MISMATCH {line}")
    for v in doc["sessions"]:
        diff = differences(doc, v)
        ok += not diff
        for line in diff:
            print(f"MISMATCH {v['name']}: {line}")
    print(f"{ok} of {n} sessions match (every message, result and record rebuilt from the specification)")
    return 0 if ok == n and not check_identities(doc) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
