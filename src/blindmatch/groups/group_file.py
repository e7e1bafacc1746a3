"""A round's group file: the labs of one round, their keys and endpoints, and the agreed session terms
(issue 16 item 1; the format is in docs/groups-rounds.md).

The forum signs it with the same key that signs its policy file (``ForumPolicy.forum_key``), under its own
context prefix, and names the policy version it belongs to by its digest. :func:`load_group` is strict like
:func:`~blindmatch.groups.forum_policy.load_policy`: one canonical encoding, exact members, types and
ranges, the signature, the policy digest and the validity window. Whether the labs and terms are inside
the policy is checked by :func:`~blindmatch.groups.rounds.check_round` before a round sends anything.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .._text import unsafe_characters
from ..canonical import check_canon_version, kinds_of
from ..errors import InvalidParameter, MalformedFile
from ..session._canonjson import canonical_json
from ..session.identity import Identity, PublicIdentity
from ..session.manifest import MAX_ITEMS_LIMIT
from ..session.padding import PADDING_RULES
from ._signedfile import exact_members, parse_canonical
from .forum_policy import MAX_MEMBERS, ForumPolicy, _check_int, _check_name, _show

__all__ = [
    "ENGINES",
    "GROUP_CONTEXT",
    "GROUP_FORMAT",
    "MAX_GROUP_BYTES",
    "ROUND_MODES",
    "BadGroupSignature",
    "Group",
    "GroupFileError",
    "GroupLab",
    "GroupNotValidNow",
    "GroupPolicyMismatch",
    "load_group",
    "sign_group",
]

#: The ``format`` member of every group body.
GROUP_FORMAT = "blindmatch-group/v1"
#: What the forum key signs: this prefix, then the canonical JSON of the group body.
GROUP_CONTEXT = b"blindmatch-group/v1\x00"
#: The largest group file :func:`load_group` reads.
MAX_GROUP_BYTES = 1 << 20
#: The session modes a round may use: both sides learn which of their items the other holds.
ROUND_MODES = ("mutual",)
#: The PSI engines a round may name (``dh``: the default engine; ``ot``: the semi-honest OT engine).
ENGINES = ("dh", "ot")
#: The longest ``purpose`` of a group (the session purpose adds the round name and group digest to it).
MAX_GROUP_PURPOSE = 140

_MAX_INT = 2**53 - 1
_HEX_SIG = re.compile(r"[0-9a-f]{128}", re.ASCII)
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
_ENDPOINT = re.compile(
    r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):([1-9][0-9]{0,4})", re.ASCII
)
_BODY_KEYS = frozenset(
    {"format", "round", "forum_policy", "threshold", "purpose", "issued", "not_after", "labs", "terms"}
)
_LAB_KEYS = frozenset({"name", "public_key", "endpoint"})
_TERM_KEYS = frozenset({"mode", "engine", "kinds", "max_items", "padding", "canon_version"})


class GroupFileError(MalformedFile):
    """A group file is malformed, not canonical, out of range, or otherwise unacceptable."""


class BadGroupSignature(GroupFileError):
    """The group file's signature does not verify under the forum key of the policy (forged, modified, or
    signed by another forum)."""


class GroupPolicyMismatch(GroupFileError):
    """The group file belongs to another forum policy (another version, or another forum's)."""


class GroupNotValidNow(GroupFileError):
    """The group file is expired (``expired`` true) or not valid yet (``expired`` false)."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


def _parse_endpoint(text: object) -> tuple[str, int]:
    if not isinstance(text, str):
        raise InvalidParameter("an endpoint is a 'host:port' string")
    m = _ENDPOINT.fullmatch(text)
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        raise InvalidParameter(f"endpoint {_show(text)} is not host:port (port 1..65535, IPv6 in [])")
    host = m.group(1)
    return (host[1:-1] if host.startswith("[") else host), int(m.group(2))


@dataclass(frozen=True)
class GroupLab:
    """One lab of a round: its name (as in the forum policy), its key and where it listens."""

    name: str
    public_key: PublicIdentity
    host: str
    port: int

    def __post_init__(self) -> None:
        _check_name("lab name", self.name)
        if not isinstance(self.public_key, PublicIdentity) or not self.public_key.is_valid:
            raise InvalidParameter(f"the key of lab {self.name} is not a usable Ed25519 key")
        _parse_endpoint(self.endpoint)

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if isinstance(self.host, str) and ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def at(cls, name: str, public_key: PublicIdentity, endpoint: str) -> GroupLab:
        """A lab listening at ``endpoint`` (``"host:port"``)."""
        host, port = _parse_endpoint(endpoint)
        return cls(name, public_key, host, port)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "public_key": self.public_key.to_text(), "endpoint": self.endpoint}


def _check_kinds(kinds: object, canon_version: int) -> tuple[str, ...]:
    if isinstance(kinds, str) or not isinstance(kinds, tuple | list) or not kinds:
        raise InvalidParameter("kinds must be a non-empty sequence of kind names")
    known = set(kinds_of(canon_version))
    bad = [k for k in kinds if not isinstance(k, str) or k not in known]
    if bad:
        raise InvalidParameter(f"kinds outside canon version {canon_version}: {_show(bad)}")
    if len(set(kinds)) != len(kinds):
        raise InvalidParameter("kinds lists a kind twice")
    return tuple(sorted(kinds))


@dataclass(frozen=True)
class Group:
    """One round: its labs in the fixed group order and the session terms every pair uses. Every field is
    validated when the object is made (:class:`~blindmatch.errors.InvalidParameter`); ``kinds`` is kept
    sorted. See docs/groups-rounds.md for each member."""

    round: str
    forum_policy: bytes  # ForumPolicy.digest of the policy version the round runs under
    threshold: int
    purpose: str
    issued: int
    not_after: int
    labs: tuple[GroupLab, ...]
    kinds: tuple[str, ...]
    max_items: int
    padding: str = "pow2"
    canon_version: int = 1
    mode: str = "mutual"
    engine: str = "dh"

    def __post_init__(self) -> None:
        _check_name("round", self.round)
        if not isinstance(self.forum_policy, bytes) or len(self.forum_policy) != 32:
            raise InvalidParameter("forum_policy is the 32-byte digest of the forum policy")
        self._check_purpose()
        _check_int("issued", self.issued, 0)
        _check_int("not_after", self.not_after, self.issued + 1 if type(self.issued) is int else 1)
        check_canon_version(self.canon_version)
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, self.canon_version))
        _check_int("max_items", self.max_items, 1, MAX_ITEMS_LIMIT)
        if self.padding not in PADDING_RULES:
            raise InvalidParameter(f"padding must be one of {', '.join(PADDING_RULES)}")
        if self.mode not in ROUND_MODES:
            raise InvalidParameter(f"a round's mode is {' or '.join(ROUND_MODES)} (both sides learn which "
                                   "of their items the other holds)")  # fmt: skip
        if self.engine not in ENGINES:
            raise InvalidParameter(f"engine must be one of {', '.join(ENGINES)}")
        self._check_labs()
        _check_int("threshold", self.threshold, 2, len(self.labs))

    def _check_purpose(self) -> None:
        p = self.purpose
        if not isinstance(p, str) or not 1 <= len(p) <= MAX_GROUP_PURPOSE or not p.isascii():
            raise InvalidParameter(f"purpose is one line of 1 to {MAX_GROUP_PURPOSE} ASCII characters")
        if unsafe_characters(p):
            raise InvalidParameter("purpose holds control or format characters")

    def _check_labs(self) -> None:
        labs = self.labs
        if not isinstance(labs, tuple) or not all(isinstance(lab, GroupLab) for lab in labs):
            raise InvalidParameter("labs must be a tuple of GroupLab")
        if not 2 <= len(labs) <= MAX_MEMBERS:
            raise InvalidParameter(f"a round has 2..{MAX_MEMBERS} labs")
        for what, values in (
            ("name", [lab.name for lab in labs]),
            ("key", [lab.public_key for lab in labs]),
            ("endpoint", [lab.endpoint for lab in labs]),
        ):
            if len(set(values)) != len(values):
                raise InvalidParameter(f"two labs have the same {what}: one lab cannot count as two")

    # -- lookups -------------------------------------------------------------------------------------------

    def lab(self, name: str) -> GroupLab:
        for lab in self.labs:
            if lab.name == name:
                return lab
        raise InvalidParameter(f"no lab named {_show(name)} in round {self.round}")

    def lab_of_key(self, key: PublicIdentity) -> GroupLab | None:
        for lab in self.labs:
            if lab.public_key == key:
                return lab
        return None

    def index(self, name: str) -> int:
        return self.labs.index(self.lab(name))

    @property
    def psi_suite(self) -> str:
        from ..session.manifest import OT_PSI_SUITE, PSI_SUITE

        return OT_PSI_SUITE if self.engine == "ot" else PSI_SUITE

    @property
    def session_purpose(self) -> str:
        """The purpose every pair's manifest (and so every disclosure record) carries: it binds the pair's
        records to this round and this group file."""
        return f"blindmatch round {self.round} (group {self.digest.hex()}): {self.purpose}"

    # -- the file ------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The group body: the JSON object the forum key signs."""
        return {
            "format": GROUP_FORMAT,
            "round": self.round,
            "forum_policy": self.forum_policy.hex(),
            "threshold": self.threshold,
            "purpose": self.purpose,
            "issued": self.issued,
            "not_after": self.not_after,
            "labs": [lab.to_json() for lab in self.labs],
            "terms": {
                "mode": self.mode,
                "engine": self.engine,
                "kinds": list(self.kinds),
                "max_items": self.max_items,
                "padding": self.padding,
                "canon_version": self.canon_version,
            },
        }

    @property
    def digest(self) -> bytes:
        """SHA-256 of exactly what the forum key signs."""
        return hashlib.sha256(GROUP_CONTEXT + canonical_json(self.to_json())).digest()

    def check_valid_at(self, now: float) -> None:
        """Raise :class:`GroupNotValidNow` unless ``issued <= now < not_after``."""
        if now < self.issued:
            raise GroupNotValidNow(f"round {self.round} is not valid before {self.issued}", expired=False)
        if now >= self.not_after:
            raise GroupNotValidNow(f"round {self.round} expired at {self.not_after}", expired=True)


def sign_group(forum: Identity, group: Group) -> bytes:
    """The group file: canonical JSON ``{"group": <body>, "signature": <hex>}``, signed by the forum key
    ``forum`` over :data:`GROUP_CONTEXT` and the body."""
    if not isinstance(forum, Identity) or not isinstance(group, Group):
        raise TypeError("sign_group(forum: Identity, group: Group)")
    body = group.to_json()
    signature = forum.sign(GROUP_CONTEXT + canonical_json(body))
    return canonical_json({"group": body, "signature": signature.hex()})


def _parse(data: bytes) -> Any:
    return parse_canonical(data, limit=MAX_GROUP_BYTES, error=GroupFileError, what="the group file",
                           writer="sign_group")  # fmt: skip


def _exact(what: str, obj: object, keys: frozenset[str]) -> dict[str, Any]:
    return exact_members(what, obj, keys, GroupFileError)


def _lab_from(index: int, obj: object) -> GroupLab:
    entry = _exact(f"labs[{index}]", obj, _LAB_KEYS)
    key = entry["public_key"]
    if not isinstance(key, str):
        raise GroupFileError(f"labs[{index}].public_key must be a key text")
    try:
        return GroupLab.at(entry["name"], PublicIdentity.from_text(key), entry["endpoint"])
    except (InvalidParameter, ValueError, TypeError) as exc:
        raise GroupFileError(f"labs[{index}]: {exc}") from None


def _group_from(body: dict[str, Any]) -> Group:
    if body["format"] != GROUP_FORMAT:
        raise GroupFileError(f"format must be {GROUP_FORMAT!r}, not {_show(body['format'])}")
    digest = body["forum_policy"]
    if not isinstance(digest, str) or _HEX_DIGEST.fullmatch(digest) is None:
        raise GroupFileError("forum_policy must be 64 lowercase hex digits")
    labs = body["labs"]
    if not isinstance(labs, list):
        raise GroupFileError("labs must be a list")
    terms = _exact("terms", body["terms"], _TERM_KEYS)
    kinds = terms["kinds"]
    if not isinstance(kinds, list):
        raise GroupFileError("terms.kinds must be a list")
    return Group(
        round=body["round"], forum_policy=bytes.fromhex(digest), threshold=body["threshold"],
        purpose=body["purpose"], issued=body["issued"], not_after=body["not_after"],
        labs=tuple(_lab_from(i, lab) for i, lab in enumerate(labs)), kinds=tuple(kinds),
        max_items=terms["max_items"], padding=terms["padding"], canon_version=terms["canon_version"],
        mode=terms["mode"], engine=terms["engine"],
    )  # fmt: skip


def load_group(data: bytes, policy: ForumPolicy, *, now: float) -> Group:
    """The group in file ``data``, signed by ``policy.forum_key``, belonging to ``policy`` (its digest)
    and valid at ``now``.

    Every refusal is a :class:`GroupFileError` (a :class:`~blindmatch.errors.MalformedFile`):
    :class:`BadGroupSignature`, :class:`GroupPolicyMismatch`, :class:`GroupNotValidNow`, or the base
    class for a file that is not exactly what :func:`sign_group` writes.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("data must be bytes")
    if not isinstance(policy, ForumPolicy):
        raise TypeError("policy must be a ForumPolicy")
    data = bytes(data)
    doc = _exact("the group file", _parse(data), frozenset({"group", "signature"}))
    signature = doc["signature"]
    if not isinstance(signature, str) or _HEX_SIG.fullmatch(signature) is None:
        raise GroupFileError("signature must be 128 lowercase hex digits")
    body = _exact("group", doc["group"], _BODY_KEYS)
    if not policy.forum_key.verify(bytes.fromhex(signature), GROUP_CONTEXT + canonical_json(body)):
        raise BadGroupSignature(
            f"the group file's signature does not verify under the forum key {policy.forum_key.fingerprint} "
            "(forged, modified, or another forum's)"
        )
    try:
        group = _group_from(body)
    except InvalidParameter as exc:
        raise GroupFileError(f"group file: {exc}") from None
    if canonical_json(group.to_json()) != canonical_json(body):
        raise GroupFileError("the group file's kinds are not sorted (or its lab entries not in one form)")
    if group.forum_policy != policy.digest:
        raise GroupPolicyMismatch(
            f"round {group.round} belongs to another forum policy than version {policy.version} of "
            f"{policy.forum} (digest {group.forum_policy.hex()[:16]}..., expected "
            f"{policy.digest.hex()[:16]}...)"
        )
    group.check_valid_at(now)
    return group
