"""A forum's governance in one signed policy file (issue 16 item 6; the format is in docs/forum-policy.md).

A forum (the industry group that coordinates labs) states in one file what its members may do together:
the indicator kinds it allows (attack indicators only: competition law forbids rivals to compare
customers), caps, padding rules, the smallest threshold a match may be acted on with (t >= 2: a rival can
put another lab's large customer into its own set, so one holder besides us proves nothing), how long
reports are kept, and the members' Ed25519 keys with their revocations. The forum signs the file with its
own Ed25519 key; labs load it with :func:`load_policy` (strict: one canonical encoding, exact members,
types and ranges, signature, validity window) and rounds and over-threshold runs call
:meth:`ForumPolicy.check_member`, :meth:`ForumPolicy.check_run` and
:meth:`ForumPolicy.check_version_not_older` before anything leaves the lab.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..canonical import check_canon_version, kinds_of
from ..errors import InvalidParameter, MalformedFile, RemoteError
from ..session._canonjson import canonical_json
from ..session.identity import Identity, PublicIdentity
from ..session.manifest import MAX_ITEMS_LIMIT
from ..session.padding import PADDING_RULES
from ._signedfile import exact_members, parse_canonical

__all__ = [
    "CONTEXT",
    "CUSTOMER_DATA_KINDS",
    "FORMAT",
    "MAX_FILE_BYTES",
    "MAX_MEMBERS",
    "MAX_RETENTION_DAYS",
    "BadPolicySignature",
    "ForumPolicy",
    "ForumPolicyError",
    "NotAMember",
    "PolicyNotValidNow",
    "PolicyRollback",
    "PolicyViolation",
    "Revocation",
    "RunOutsidePolicy",
    "load_policy",
    "sign_policy",
]

#: The ``format`` member of every policy body.
FORMAT = "blindmatch-forum-policy/v1"
#: What the forum key signs: this prefix, then the canonical JSON of the policy body.
CONTEXT = b"blindmatch-forum-policy/v1\x00"
#: The largest policy file :func:`load_policy` reads.
MAX_FILE_BYTES = 1 << 20
#: The most members (and the most revocations) one policy lists.
MAX_MEMBERS = 1024
#: Reports are kept at most this long (ten years), whatever a forum writes.
MAX_RETENTION_DAYS = 3650
#: Kinds no forum policy may allow: their values name a lab's customers or partners, not attackers
#: (``org``: "a list of organizations a lab matches against is often a list of its customers",
#: docs/canonicalization.md). The other kinds can be attack indicators; whether they are is the forum's call.
CUSTOMER_DATA_KINDS: frozenset[str] = frozenset({"org"})

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
_HEX_SIG = re.compile(r"[0-9a-f]{128}", re.ASCII)
_BODY_KEYS = frozenset(
    {
        "format",
        "forum",
        "forum_key",
        "version",
        "issued",
        "not_after",
        "canon_version",
        "kinds",
        "max_items",
        "paddings",
        "min_threshold",
        "retention_days",
        "members",
        "revoked",
    }
)
_MAX_INT = 2**53 - 1


class ForumPolicyError(MalformedFile):
    """A forum policy file is malformed, not canonical, out of range, or otherwise unacceptable."""


class BadPolicySignature(ForumPolicyError):
    """The policy's signature does not verify under the forum key the caller trusts (forged, modified, or
    signed by another forum)."""


class PolicyNotValidNow(ForumPolicyError):
    """The policy is expired (``expired`` true) or not valid yet (``expired`` false)."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


class PolicyRollback(ForumPolicyError):
    """The policy is older than one already accepted (or the same version with other contents)."""


class PolicyViolation(RemoteError, ValueError):
    """A party or a run is outside the forum policy; rounds and over-threshold runs stop on it."""


class NotAMember(PolicyViolation):
    """A key is not a member's key, or it (or its member) is revoked (``revoked`` true)."""

    def __init__(self, message: str, *, revoked: bool) -> None:
        super().__init__(message)
        self.revoked = revoked


class RunOutsidePolicy(PolicyViolation):
    """A run's terms are outside the policy; ``what`` names the term: ``kinds``, ``max_items``,
    ``padding`` or ``threshold``."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what


def _show(value: object) -> str:
    """A short, printable rendering of a value from a file (never more than 40 characters of it)."""
    text = ascii(value)
    return text if len(text) <= 42 else text[:40] + "..."


def _is_int(value: object) -> bool:
    return type(value) is int


def _check_int(name: str, value: object, low: int, high: int = _MAX_INT) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParameter(f"{name} must be an integer")
    if not low <= value <= high:
        raise InvalidParameter(f"{name} must be in {low}..{high}, not {value}")
    return value


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise InvalidParameter(
            f"{what} {_show(value)} is not a name (1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter "
            "or digit)"
        )
    return value


def _check_key(what: str, value: object) -> PublicIdentity:
    if not isinstance(value, PublicIdentity):
        raise InvalidParameter(f"{what} must be a PublicIdentity")
    if not value.is_valid:
        raise InvalidParameter(f"{what} is not a usable Ed25519 key (small order or not canonical)")
    return value


def _sorted_unique(what: str, values: object, allowed: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidParameter(f"{what} must be a sequence of strings")
    items = list(values)
    if not items:
        raise InvalidParameter(f"{what} must name at least one")
    if not all(isinstance(v, str) for v in items):
        raise InvalidParameter(f"{what} must be a sequence of strings")
    if len(set(items)) != len(items):
        raise InvalidParameter(f"{what} lists a value twice")
    allowed_set = frozenset(allowed)
    unknown = sorted(v for v in items if v not in allowed_set)
    if unknown:
        raise InvalidParameter(f"{what} outside {', '.join(sorted(allowed_set))}: {_show(unknown)}")
    return tuple(sorted(items))


@dataclass(frozen=True)
class Revocation:
    """From Unix time ``at`` on, ``key`` (any member name it is listed under) or every key of member
    ``name`` is no longer a member's: exactly one of ``key`` and ``name`` is given. Before ``at`` the
    key was a member's (records it signed then stay attributable)."""

    at: int
    key: PublicIdentity | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        _check_int("revocation time", self.at, 0)
        if (self.key is None) == (self.name is None):
            raise InvalidParameter("a revocation names exactly one of a key and a member name")
        if self.key is not None:
            _check_key("revoked key", self.key)
        else:
            _check_name("revoked member name", self.name)

    def applies_to(self, key: PublicIdentity, name: str | None, now: float) -> bool:
        """Whether this revocation covers ``key`` (listed under member ``name``, if any) at ``now``."""
        if now < self.at:
            return False
        return (self.key is not None and self.key == key) or (self.name is not None and self.name == name)

    def sort_key(self) -> tuple[int, str, str]:
        if self.key is not None:
            return (self.at, "key", self.key.to_text())
        return (self.at, "name", self.name or "")

    def to_json(self) -> dict[str, Any]:
        if self.key is not None:
            return {"at": self.at, "key": self.key.to_text()}
        return {"at": self.at, "name": self.name}


@dataclass(frozen=True)
class ForumPolicy:
    """One version of a forum's policy. Every field is validated when the object is made (a bad value
    raises :class:`~blindmatch.errors.InvalidParameter`); ``kinds``, ``paddings`` and ``revoked`` are kept
    sorted, ``members`` read-only and sorted by name. See docs/forum-policy.md for each member's meaning."""

    forum: str
    forum_key: PublicIdentity
    version: int
    issued: int
    not_after: int
    canon_version: int
    kinds: tuple[str, ...]
    max_items: int
    paddings: tuple[str, ...]
    min_threshold: int
    retention_days: int
    members: Mapping[str, PublicIdentity]
    revoked: tuple[Revocation, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_name("forum", self.forum)
        _check_key("forum_key", self.forum_key)
        _check_int("version", self.version, 1)
        _check_int("issued", self.issued, 0)
        _check_int("not_after", self.not_after, self.issued + 1 if _is_int(self.issued) else 1)
        check_canon_version(self.canon_version)
        kinds = _sorted_unique("kinds", self.kinds, kinds_of(self.canon_version))
        barred = sorted(CUSTOMER_DATA_KINDS.intersection(kinds))
        if barred:
            raise InvalidParameter(
                f"kinds: {', '.join(barred)} would name customers or partners, not attackers; a forum policy "
                "allows attack indicators only (competition law)"
            )
        object.__setattr__(self, "kinds", kinds)
        _check_int("max_items", self.max_items, 1, MAX_ITEMS_LIMIT)
        object.__setattr__(self, "paddings", _sorted_unique("paddings", self.paddings, PADDING_RULES))
        _check_int("retention_days", self.retention_days, 1, MAX_RETENTION_DAYS)
        self._set_members()
        self._set_revoked()
        if not _is_int(self.min_threshold) or self.min_threshold < 2:
            raise InvalidParameter(
                "min_threshold must be an integer of at least 2: acting on a match needs two independent "
                "holders (a rival can put another lab's large customer into its own set)"
            )
        _check_int("min_threshold", self.min_threshold, 2, len(self.members))

    def _set_members(self) -> None:
        if not isinstance(self.members, Mapping):
            raise InvalidParameter("members must map names to PublicIdentity keys")
        if not 2 <= len(self.members) <= MAX_MEMBERS:
            raise InvalidParameter(f"members must list 2..{MAX_MEMBERS} labs")
        seen: set[PublicIdentity] = set()
        for name, key in self.members.items():
            _check_name("member name", name)
            _check_key(f"the key of member {name}", key)
            if key in seen:
                raise InvalidParameter(
                    f"member {name} has the key of another member: one lab cannot count as two holders"
                )
            if key == self.forum_key:
                raise InvalidParameter(f"member {name} has the forum's own key")
            seen.add(key)
        object.__setattr__(self, "members", MappingProxyType(dict(sorted(self.members.items()))))

    def _set_revoked(self) -> None:
        if isinstance(self.revoked, str | bytes) or not isinstance(self.revoked, Iterable):
            raise InvalidParameter("revoked must be a sequence of Revocation")
        items = list(self.revoked)
        if len(items) > MAX_MEMBERS:
            raise InvalidParameter(f"revoked lists at most {MAX_MEMBERS} revocations")
        if not all(isinstance(r, Revocation) for r in items):
            raise InvalidParameter("revoked must be a sequence of Revocation")
        targets = [r.sort_key()[1:] for r in items]
        if len(set(targets)) != len(targets):
            raise InvalidParameter("revoked lists the same key or member name twice")
        object.__setattr__(self, "revoked", tuple(sorted(items, key=Revocation.sort_key)))

    # -- the file ------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The policy body: the JSON object the forum key signs (docs/forum-policy.md)."""
        return {
            "format": FORMAT,
            "forum": self.forum,
            "forum_key": self.forum_key.to_text(),
            "version": self.version,
            "issued": self.issued,
            "not_after": self.not_after,
            "canon_version": self.canon_version,
            "kinds": list(self.kinds),
            "max_items": self.max_items,
            "paddings": list(self.paddings),
            "min_threshold": self.min_threshold,
            "retention_days": self.retention_days,
            "members": {name: key.to_text() for name, key in self.members.items()},
            "revoked": [r.to_json() for r in self.revoked],
        }

    def __hash__(self) -> int:
        return hash(self.digest)

    @property
    def digest(self) -> bytes:
        """SHA-256 of exactly what the forum key signs: two policies with one digest are the same policy."""
        return hashlib.sha256(CONTEXT + canonical_json(self.to_json())).digest()

    # -- the checks rounds and over-threshold runs make ----------------------------------------------------

    def check_valid_at(self, now: float) -> None:
        """Raise :class:`PolicyNotValidNow` unless ``issued <= now < not_after``."""
        when = _check_now(now)
        if when < self.issued:
            raise PolicyNotValidNow(
                f"the forum policy of {self.forum} (version {self.version}) is not valid before "
                f"{self.issued}; now is {int(when)}",
                expired=False,
            )
        if when >= self.not_after:
            raise PolicyNotValidNow(
                f"the forum policy of {self.forum} (version {self.version}) expired at {self.not_after}; "
                f"now is {int(when)}",
                expired=True,
            )

    def member_name(self, public_key: PublicIdentity) -> str | None:
        """The member name ``public_key`` is listed under (revoked or not), or ``None``."""
        for name, key in self.members.items():
            if key == public_key:
                return name
        return None

    def check_member(self, public_key: PublicIdentity, now: float) -> str:
        """The member name of ``public_key`` when it is a member's key, not revoked at ``now``, under a
        policy valid at ``now``; else :class:`NotAMember` (or :class:`PolicyNotValidNow`)."""
        if not isinstance(public_key, PublicIdentity):
            raise TypeError("public_key must be a PublicIdentity")
        self.check_valid_at(now)
        name = self.member_name(public_key)
        for r in self.revoked:
            if r.applies_to(public_key, name, now):
                who = f"member {name}" if name is not None else "a former member"
                raise NotAMember(
                    f"the key {public_key.fingerprint} of {who} of forum {self.forum} was revoked at {r.at}",
                    revoked=True,
                )
        if name is None:
            raise NotAMember(
                f"the key {public_key.fingerprint} is not a member's key in forum {self.forum} "
                f"(policy version {self.version})",
                revoked=False,
            )
        return name

    def check_run(self, kinds: Iterable[str], max_items: int, padding: str, threshold: int) -> None:
        """Raise :class:`RunOutsidePolicy` (naming the term) unless a run over ``kinds``, with at most
        ``max_items`` per lab, padding rule ``padding`` and match threshold ``threshold`` is allowed."""
        if isinstance(kinds, str) or not isinstance(kinds, Iterable):
            raise RunOutsidePolicy("kinds", "must be a collection of kind names")
        wanted = list(kinds)
        if not wanted:
            raise RunOutsidePolicy("kinds", "a run names at least one kind")
        outside = sorted({_show(k) for k in wanted if not isinstance(k, str) or k not in self.kinds})
        if outside:
            raise RunOutsidePolicy(
                "kinds",
                f"{', '.join(outside[:5])}{' ...' if len(outside) > 5 else ''} not allowed by forum "
                f"{self.forum} (allowed: {', '.join(self.kinds)})",
            )
        if not _is_int(max_items) or not 1 <= max_items <= self.max_items:
            raise RunOutsidePolicy("max_items", f"{_show(max_items)} is not in 1..{self.max_items}")
        if not isinstance(padding, str) or padding not in self.paddings:
            raise RunOutsidePolicy(
                "padding", f"{_show(padding)} is not allowed (allowed: {', '.join(self.paddings)})"
            )
        least = max(2, self.min_threshold)
        if not _is_int(threshold) or threshold < least:
            raise RunOutsidePolicy(
                "threshold",
                f"{_show(threshold)} is below {least}: acting on a match needs at least {least} "
                "independent holders",
            )

    def check_version_not_older(self, previous_version: int, previous_digest: bytes | None = None) -> None:
        """Rollback protection: raise :class:`PolicyRollback` when this policy is older than version
        ``previous_version`` (already accepted), or, given that version's ``previous_digest``, is the same
        version with other contents (a forum that equivocates)."""
        if not _is_int(previous_version) or previous_version < 0:
            raise InvalidParameter("previous_version must be a non-negative integer")
        if self.version < previous_version:
            raise PolicyRollback(
                f"forum policy version {self.version} is older than version {previous_version}, "
                "already accepted: refused (rollback)"
            )
        if (
            self.version == previous_version
            and previous_digest is not None
            and previous_digest != self.digest
        ):
            raise PolicyRollback(
                f"forum policy version {self.version} differs from the version {previous_version} "
                "already accepted: the forum signed two policies with one version"
            )


def _check_now(now: object) -> float:
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise InvalidParameter("now must be a finite number of Unix seconds")
    return float(now)


def _parse(data: bytes) -> Any:
    return parse_canonical(data, limit=MAX_FILE_BYTES, error=ForumPolicyError, what="the forum policy file",
                           writer="sign_policy")  # fmt: skip


def _exact(what: str, obj: object, keys: frozenset[str]) -> dict[str, Any]:
    return exact_members(what, obj, keys, ForumPolicyError)


def sign_policy(identity: Identity, policy: ForumPolicy) -> bytes:
    """The policy file: canonical JSON ``{"policy": <body>, "signature": <hex>}``, the signature by the
    forum key ``identity`` (which must be ``policy.forum_key``) over :data:`CONTEXT` and the body."""
    if not isinstance(identity, Identity) or not isinstance(policy, ForumPolicy):
        raise TypeError("sign_policy(identity: Identity, policy: ForumPolicy)")
    if identity.public != policy.forum_key:
        raise InvalidParameter("the signing identity is not the policy's forum_key")
    body = policy.to_json()
    signature = identity.sign(CONTEXT + canonical_json(body))
    return canonical_json({"policy": body, "signature": signature.hex()})


def _key_from(what: str, value: object) -> PublicIdentity:
    if not isinstance(value, str):
        raise ForumPolicyError(f"{what} must be a key text")
    try:
        return PublicIdentity.from_text(value)
    except InvalidParameter as exc:
        raise ForumPolicyError(f"{what}: {exc}") from None


def _string_list(what: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ForumPolicyError(f"{what} must be a list of strings")
    return tuple(value)


def _revocation_from(index: int, obj: object) -> Revocation:
    what = f"revoked[{index}]"
    if isinstance(obj, dict) and "key" in obj:
        entry = _exact(what, obj, frozenset({"at", "key"}))
        return Revocation(at=entry["at"], key=_key_from(f"{what}.key", entry["key"]))
    entry = _exact(what, obj, frozenset({"at", "name"}))
    return Revocation(at=entry["at"], name=entry["name"])


def _policy_from(body: dict[str, Any]) -> ForumPolicy:
    if body["format"] != FORMAT:
        raise ForumPolicyError(f"format must be {FORMAT!r}, not {_show(body['format'])}")
    members = body["members"]
    if not isinstance(members, dict):
        raise ForumPolicyError("members must be a JSON object of names to keys")
    revoked = body["revoked"]
    if not isinstance(revoked, list):
        raise ForumPolicyError("revoked must be a list")
    return ForumPolicy(
        forum=body["forum"],
        forum_key=_key_from("forum_key", body["forum_key"]),
        version=body["version"],
        issued=body["issued"],
        not_after=body["not_after"],
        canon_version=body["canon_version"],
        kinds=_string_list("kinds", body["kinds"]),
        max_items=body["max_items"],
        paddings=_string_list("paddings", body["paddings"]),
        min_threshold=body["min_threshold"],
        retention_days=body["retention_days"],
        members={str(n): _key_from(f"the key of member {_show(n)}", k) for n, k in members.items()},
        revoked=tuple(_revocation_from(i, r) for i, r in enumerate(revoked)),
    )


def load_policy(data: bytes, forum_key: PublicIdentity, *, now: float) -> ForumPolicy:
    """The policy in file ``data``, signed by ``forum_key`` and valid at ``now`` (Unix seconds).

    Strict: the file is exactly what :func:`sign_policy` writes (canonical JSON, exact members, types and
    ranges), its signature verifies under ``forum_key`` (the key the lab trusts for this forum, obtained
    out of band) and ``issued <= now < not_after``. Every refusal is a :class:`ForumPolicyError` (a
    :class:`~blindmatch.errors.MalformedFile`): :class:`BadPolicySignature` for a forged or modified file,
    :class:`PolicyNotValidNow` for an expired or not-yet-valid one. Rollback protection needs the last
    version accepted: call :meth:`ForumPolicy.check_version_not_older` with it.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("data must be bytes")
    if not isinstance(forum_key, PublicIdentity):
        raise TypeError("forum_key must be a PublicIdentity")
    _check_now(now)
    data = bytes(data)
    doc = _exact("the forum policy file", _parse(data), frozenset({"policy", "signature"}))
    signature = doc["signature"]
    if not isinstance(signature, str) or _HEX_SIG.fullmatch(signature) is None:
        raise ForumPolicyError("signature must be 128 lowercase hex digits")
    body = _exact("policy", doc["policy"], _BODY_KEYS)
    if not forum_key.verify(bytes.fromhex(signature), CONTEXT + canonical_json(body)):
        raise BadPolicySignature(
            f"the forum policy's signature does not verify under the forum key {forum_key.fingerprint} "
            "(forged, modified, or another forum's)"
        )
    try:
        policy = _policy_from(body)
    except InvalidParameter as exc:
        raise ForumPolicyError(f"forum policy: {exc}") from None
    if policy.forum_key != forum_key:
        raise ForumPolicyError("the policy names another forum key than the one that signed it")
    if canonical_json(policy.to_json()) != canonical_json(body):
        raise ForumPolicyError("the forum policy's lists are not sorted (or repeat a value)")
    policy.check_valid_at(now)
    return policy
