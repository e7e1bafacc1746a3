"""The forum's signed policy file (issue 16 item 6): round trip, every refusal, hostile bytes."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from blindmatch.errors import InvalidParameter, MalformedFile, RemoteError
from blindmatch.groups.forum_policy import (
    CONTEXT,
    BadPolicySignature,
    ForumPolicy,
    ForumPolicyError,
    NotAMember,
    PolicyNotValidNow,
    PolicyRollback,
    Revocation,
    RunOutsidePolicy,
    load_policy,
    sign_policy,
)
from blindmatch.session import Identity, PublicIdentity
from blindmatch.session._canonjson import canonical_json

FORUM = Identity.from_seed(bytes([1]) * 32)
OTHER_FORUM = Identity.from_seed(bytes([2]) * 32)
LABS = {name: Identity.from_seed(bytes([10 + i]) * 32) for i, name in enumerate(["lab-a", "lab-b", "lab-c"])}
GONE = Identity.from_seed(bytes([20]) * 32)
ISSUED = 1_800_000_000
NOT_AFTER = ISSUED + 90 * 86400
NOW = ISSUED + 3600
REVOKED_AT = ISSUED + 7200


def make_policy(**changes: Any) -> ForumPolicy:
    fields: dict[str, Any] = {
        "forum": "ai-labs-forum",
        "forum_key": FORUM.public,
        "version": 3,
        "issued": ISSUED,
        "not_after": NOT_AFTER,
        "canon_version": 1,
        "kinds": ("email", "account", "ip", "prompt"),
        "max_items": 1 << 17,
        "paddings": ("pow2", "cap"),
        "min_threshold": 2,
        "retention_days": 90,
        "members": {name: ident.public for name, ident in LABS.items()},
        "revoked": (Revocation(at=REVOKED_AT, name="lab-c"), Revocation(at=ISSUED - 10, key=GONE.public)),
    }
    fields.update(changes)
    return ForumPolicy(**fields)


POLICY = make_policy()
FILE = sign_policy(FORUM, POLICY)


def signed_file(body: dict[str, Any], signer: Identity = FORUM) -> bytes:
    """A canonical file around any body, correctly signed (to reach the checks behind the signature)."""
    signature = signer.sign(CONTEXT + canonical_json(body)).hex()
    return canonical_json({"policy": body, "signature": signature})


def body() -> dict[str, Any]:
    return json.loads(json.dumps(POLICY.to_json()))  # type: ignore[no-any-return]


def load(data: bytes, key: PublicIdentity = FORUM.public, now: float = NOW) -> ForumPolicy:
    return load_policy(data, key, now=now)


# -- round trip ------------------------------------------------------------------------------------------


def test_round_trip() -> None:
    loaded = load(FILE)
    assert loaded == POLICY
    assert loaded.digest == POLICY.digest
    assert hash(loaded) == hash(POLICY) and len({loaded, POLICY}) == 1
    assert sign_policy(FORUM, loaded) == FILE
    assert loaded.kinds == ("account", "email", "ip", "prompt")  # kept sorted
    assert loaded.paddings == ("cap", "pow2")
    assert list(loaded.members) == ["lab-a", "lab-b", "lab-c"]
    assert [r.at for r in loaded.revoked] == [ISSUED - 10, REVOKED_AT]


def test_file_is_canonical_json_with_policy_and_signature() -> None:
    doc = json.loads(FILE)
    assert set(doc) == {"policy", "signature"}
    assert doc["policy"]["format"] == "blindmatch-forum-policy/v1"
    assert canonical_json(doc) == FILE
    assert FORUM.public.verify(bytes.fromhex(doc["signature"]), CONTEXT + canonical_json(doc["policy"]))


def test_sign_needs_the_forum_key() -> None:
    with pytest.raises(InvalidParameter, match="forum_key"):
        sign_policy(OTHER_FORUM, POLICY)


def test_reprs_hold_no_secret() -> None:
    seed_hex = FORUM.seed().hex()
    assert seed_hex not in repr(POLICY) and seed_hex not in FILE.decode()


# -- constructor refusals (the forum's side) -------------------------------------------------------------

BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"forum": "bad name!"}, "forum"),
    ({"forum": ""}, "forum"),
    ({"forum_key": "blindmatch-ed25519:" + "00" * 32}, "forum_key"),
    ({"forum_key": PublicIdentity(bytes(32))}, "forum_key"),
    ({"version": 0}, "version"),
    ({"version": True}, "version"),
    ({"version": "3"}, "version"),
    ({"issued": -1}, "issued"),
    ({"not_after": ISSUED}, "not_after"),
    ({"canon_version": 9}, "canon version"),
    ({"kinds": ()}, "kinds"),
    ({"kinds": "email"}, "kinds"),
    ({"kinds": ("email", "email")}, "twice"),
    ({"kinds": ("email", "no-such-kind")}, "kinds outside"),
    ({"kinds": ("iban",)}, "kinds outside"),  # a canon-2 kind under canon 1
    ({"canon_version": 2, "kinds": ("email", "org")}, "competition law"),
    ({"max_items": 0}, "max_items"),
    ({"max_items": 1 << 40}, "max_items"),
    ({"paddings": ("pow3",)}, "paddings"),
    ({"paddings": ()}, "paddings"),
    ({"min_threshold": 1}, "at least 2"),
    ({"min_threshold": 0}, "at least 2"),
    ({"min_threshold": 4}, "min_threshold"),
    ({"min_threshold": 2.0}, "at least 2"),
    ({"retention_days": 0}, "retention_days"),
    ({"retention_days": 3651}, "retention_days"),
    ({"members": {"lab-a": LABS["lab-a"].public}}, "members"),
    ({"members": {"lab-a": LABS["lab-a"].public, "lab-b": LABS["lab-a"].public}}, "two holders"),
    ({"members": {"lab-a": LABS["lab-a"].public, "lab-b": FORUM.public}}, "forum's own key"),
    ({"members": {"lab-a": LABS["lab-a"].public, "lab b": LABS["lab-b"].public}}, "member name"),
    ({"members": [("lab-a", LABS["lab-a"].public)]}, "members"),
    ({"revoked": ("x",)}, "Revocation"),
    ({"revoked": (Revocation(at=1, name="x"), Revocation(at=2, name="x"))}, "twice"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_FIELDS)
def test_constructor_refuses(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        make_policy(**changes)


def test_revocation_names_exactly_one_target() -> None:
    with pytest.raises(InvalidParameter, match="exactly one"):
        Revocation(at=1)
    with pytest.raises(InvalidParameter, match="exactly one"):
        Revocation(at=1, key=GONE.public, name="lab-a")
    with pytest.raises(InvalidParameter, match="revocation time"):
        Revocation(at=-1, name="lab-a")


# -- load refusals: signed files with bad bodies ---------------------------------------------------------


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda b: b.__setitem__(key, value)


BAD_BODIES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("missing member", lambda b: b.pop("retention_days")),
    ("extra member", _set("comment", "hello")),
    ("format", _set("format", "blindmatch-forum-policy/v2")),
    ("version string", _set("version", "3")),
    ("version bool", _set("version", True)),
    ("version zero", _set("version", 0)),
    ("forum name", _set("forum", "no spaces allowed")),
    ("forum_key text", _set("forum_key", "ed25519:abc")),
    ("forum_key other", _set("forum_key", OTHER_FORUM.public.to_text())),
    ("not_after", _set("not_after", ISSUED)),
    ("canon_version", _set("canon_version", 7)),
    ("kinds type", _set("kinds", "email")),
    ("kinds unsorted", _set("kinds", ["ip", "email"])),
    ("kinds duplicate", _set("kinds", ["email", "email"])),
    ("kinds org", lambda b: b.update(canon_version=2, kinds=["email", "org"])),
    ("kinds unknown", _set("kinds", ["email", "ssn"])),
    ("paddings", _set("paddings", ["cap", "zero"])),
    ("paddings unsorted", _set("paddings", ["pow2", "cap"])),
    ("max_items", _set("max_items", 0)),
    ("t = 1", _set("min_threshold", 1)),
    ("t > members", _set("min_threshold", 9)),
    ("retention", _set("retention_days", -5)),
    ("members type", _set("members", ["lab-a"])),
    ("member key", lambda b: b["members"].__setitem__("lab-a", "blindmatch-ed25519:zz")),
    ("member key type", lambda b: b["members"].__setitem__("lab-a", 7)),
    ("member weak key", lambda b: b["members"].__setitem__("lab-a", "blindmatch-ed25519:" + "00" * 32)),
    ("member name", lambda b: b["members"].__setitem__("<script>", b["members"].pop("lab-a"))),
    ("one member", _set("members", {"lab-a": LABS["lab-a"].public.to_text()})),
    ("revoked type", _set("revoked", {"at": 1})),
    ("revocation both", _set("revoked", [{"at": 1, "key": GONE.public.to_text(), "name": "x"}])),
    ("revocation neither", _set("revoked", [{"at": 1}])),
    ("revocation time", _set("revoked", [{"at": "1", "name": "x"}])),
    ("revocation unsorted", lambda b: b["revoked"].reverse()),
    ("revocation twice", _set("revoked", [{"at": 1, "name": "x"}, {"at": 2, "name": "x"}])),
    ("policy type", lambda b: b.clear()),
]


@pytest.mark.parametrize(("label", "mutate"), BAD_BODIES, ids=[label for label, _ in BAD_BODIES])
def test_load_refuses_bad_signed_body(label: str, mutate: Callable[[dict[str, Any]], None]) -> None:
    b = body()
    mutate(b)
    with pytest.raises(ForumPolicyError) as info:
        load(signed_file(b))
    assert not isinstance(info.value, BadPolicySignature), label
    assert len(str(info.value)) < 400


def test_not_canonical_files_refused() -> None:
    doc = json.loads(FILE)
    for data in (
        FILE + b"\n",
        b" " + FILE,
        json.dumps(doc, indent=1).encode(),
        json.dumps({"signature": doc["signature"], "policy": doc["policy"]}, separators=(",", ":")).encode(),
        FILE.replace(b"/v1", b"\\u002fv1", 1),
        FILE.replace(b'"signature":"', b'"signature": "'),
    ):
        if data == FILE:
            continue
        with pytest.raises(ForumPolicyError, match="canonical"):
            load(data)


def test_duplicate_members_and_constants_refused() -> None:
    for data in (b'{"policy":{},"policy":{},"signature":""}', b'{"policy":NaN,"signature":""}'):
        with pytest.raises(ForumPolicyError):
            load(data)


def test_signature_shape() -> None:
    doc = json.loads(FILE)
    for sig in (doc["signature"].upper(), doc["signature"][:-2], 5, None):
        with pytest.raises(ForumPolicyError, match="signature"):
            load(canonical_json({**doc, "signature": sig}))


# -- signatures --------------------------------------------------------------------------------------------


def test_modified_file_is_refused() -> None:
    doc = json.loads(FILE)
    doc["policy"]["max_items"] = 1 << 20
    with pytest.raises(BadPolicySignature):
        load(canonical_json(doc))
    doc = json.loads(FILE)
    doc["policy"]["members"]["lab-evil"] = OTHER_FORUM.public.to_text()
    with pytest.raises(BadPolicySignature):
        load(canonical_json(doc))


def test_forged_signature_is_refused() -> None:
    forged = signed_file(body(), signer=OTHER_FORUM)
    with pytest.raises(BadPolicySignature):
        load(forged)
    doc = json.loads(FILE)
    with pytest.raises(BadPolicySignature):
        load(canonical_json({**doc, "signature": "ab" * 64}))


def test_wrong_forum_key_is_refused() -> None:
    with pytest.raises(BadPolicySignature, match=OTHER_FORUM.public.fingerprint):
        load(FILE, key=OTHER_FORUM.public)
    other = sign_policy(OTHER_FORUM, make_policy(forum_key=OTHER_FORUM.public))
    assert load(other, key=OTHER_FORUM.public).forum_key == OTHER_FORUM.public
    with pytest.raises(BadPolicySignature):
        load(other)


# -- validity window ---------------------------------------------------------------------------------------


def test_expired_and_not_yet_valid() -> None:
    assert load(FILE, now=ISSUED) == POLICY
    assert load(FILE, now=NOT_AFTER - 0.5) == POLICY
    with pytest.raises(PolicyNotValidNow, match="expired") as info:
        load(FILE, now=NOT_AFTER)
    assert info.value.expired
    with pytest.raises(PolicyNotValidNow, match="not valid before") as info:
        load(FILE, now=ISSUED - 1)
    assert not info.value.expired
    for bad_now in (float("nan"), float("inf"), True, "now"):
        with pytest.raises(InvalidParameter):
            load(FILE, now=bad_now)  # type: ignore[arg-type]


# -- members and revocation --------------------------------------------------------------------------------


def test_check_member() -> None:
    assert POLICY.check_member(LABS["lab-a"].public, NOW) == "lab-a"
    assert POLICY.check_member(LABS["lab-c"].public, REVOKED_AT - 1) == "lab-c"
    with pytest.raises(NotAMember, match="revoked") as info:
        POLICY.check_member(LABS["lab-c"].public, REVOKED_AT)
    assert info.value.revoked
    with pytest.raises(NotAMember, match="not a member") as info:
        POLICY.check_member(OTHER_FORUM.public, NOW)
    assert not info.value.revoked
    with pytest.raises(NotAMember, match="former member"):
        POLICY.check_member(GONE.public, NOW)
    with pytest.raises(PolicyNotValidNow):
        POLICY.check_member(LABS["lab-a"].public, NOT_AFTER + 1)
    assert isinstance(info.value, RemoteError)


def test_revoked_key_of_a_listed_member() -> None:
    policy = make_policy(revoked=(Revocation(at=ISSUED, key=LABS["lab-b"].public),))
    loaded = load(sign_policy(FORUM, policy))
    with pytest.raises(NotAMember, match="member lab-b"):
        loaded.check_member(LABS["lab-b"].public, NOW)
    assert loaded.check_member(LABS["lab-a"].public, NOW) == "lab-a"


# -- runs ----------------------------------------------------------------------------------------------------


def test_check_run_accepts_the_terms() -> None:
    POLICY.check_run(["email", "ip"], 1 << 17, "pow2", 2)
    POLICY.check_run(("prompt",), 1, "cap", 3)


@pytest.mark.parametrize(
    ("args", "what"),
    [
        ((["email", "phone"], 10, "pow2", 2), "kinds"),
        ((["org"], 10, "pow2", 2), "kinds"),
        (([], 10, "pow2", 2), "kinds"),
        (("email", 10, "pow2", 2), "kinds"),
        (([b"email"], 10, "pow2", 2), "kinds"),
        ((["email"], (1 << 17) + 1, "pow2", 2), "max_items"),
        ((["email"], 0, "pow2", 2), "max_items"),
        ((["email"], True, "pow2", 2), "max_items"),
        ((["email"], 10, "none", 2), "padding"),
        ((["email"], 10, None, 2), "padding"),
        ((["email"], 10, "pow2", 1), "threshold"),
        ((["email"], 10, "pow2", 2.5), "threshold"),
    ],
)
def test_check_run_refuses(args: tuple[Any, ...], what: str) -> None:
    with pytest.raises(RunOutsidePolicy) as info:
        POLICY.check_run(*args)
    assert info.value.what == what
    assert str(info.value).startswith(what)


def test_threshold_below_the_forums_minimum() -> None:
    policy = make_policy(min_threshold=3)
    policy.check_run(["email"], 10, "cap", 3)
    with pytest.raises(RunOutsidePolicy, match="threshold"):
        policy.check_run(["email"], 10, "cap", 2)


# -- rollback ----------------------------------------------------------------------------------------------


def test_rollback_refused() -> None:
    POLICY.check_version_not_older(0)
    POLICY.check_version_not_older(2)
    POLICY.check_version_not_older(3, POLICY.digest)
    with pytest.raises(PolicyRollback, match="older"):
        POLICY.check_version_not_older(4)
    with pytest.raises(PolicyRollback, match="two policies"):
        POLICY.check_version_not_older(3, make_policy(max_items=5).digest)
    with pytest.raises(InvalidParameter):
        POLICY.check_version_not_older(-1)
    assert isinstance(PolicyRollback("x"), MalformedFile)


def test_newer_policy_loads_after_older() -> None:
    newer = dataclasses.replace(POLICY, version=4, max_items=1000)
    loaded = load(sign_policy(FORUM, newer))
    loaded.check_version_not_older(POLICY.version, POLICY.digest)


# -- hostile bytes -------------------------------------------------------------------------------------------


def _only_malformed(data: bytes) -> None:
    try:
        load(data)
    except MalformedFile:
        return
    raise AssertionError("a damaged file loaded")


def test_truncations_only_malformed() -> None:
    for n in range(len(FILE)):
        _only_malformed(FILE[:n])


def test_bit_flips_only_malformed() -> None:
    rng = random.Random(16)
    for i in range(len(FILE)):
        for bit in rng.sample(range(8), 2):
            flipped = bytearray(FILE)
            flipped[i] ^= 1 << bit
            _only_malformed(bytes(flipped))


def test_deep_nesting_and_junk_only_malformed() -> None:
    rng = random.Random(6)
    samples = [
        b"[" * 200_000,
        b'{"a":' * 100_000,
        b"[" * 40 + b"]" * 40,
        b"",
        b"null",
        b"1" * 5000,
        b'{"policy":' + b"9" * 6000 + b',"signature":""}',
        b'{"policy":{},"signature":1.5}',
        '{"policy":"\u00e9"}'.encode(),
        b"\xff\xfe",
        b"x" * ((1 << 20) + 1),
    ]
    samples += [rng.randbytes(rng.randrange(1, 200)) for _ in range(200)]
    for data in samples:
        _only_malformed(data)


def test_long_hostile_names_are_not_echoed_whole() -> None:
    b = body()
    b["members"]["a" * 5000] = b["members"].pop("lab-a")
    with pytest.raises(ForumPolicyError) as info:
        load(signed_file(b))
    assert len(str(info.value)) < 300
