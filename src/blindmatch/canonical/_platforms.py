"""Canon version 2's ``account`` rule: a versioned registry of platforms whose account ids it knows.

For a platform in :data:`PLATFORMS` (looked up by name or alias: ``x`` is ``twitter``), an account is
either a **handle** (``twitter:alice``: a leading ``@`` dropped, case folded where the platform's handles
are case-insensitive, checked against the platform's handle syntax) or a **numeric id** (``twitter-id:12``,
or YouTube's ``youtube-id:UC...`` channel ids): different kinds of id, whose canonical forms never meet.
Write ``<platform>-id:<id>`` to say an id is numeric; ``<platform>:<digits>`` is a numeric id only where
the digits cannot be a handle (Telegram handles start with a letter, Twitter's hold at most 15
characters, Facebook's are never all digits). An id that is neither is invalid. Platforms not in the
registry keep version 1's rule (``platform:id``, case kept). See ``docs/canonicalization.md``, "Canon
version 2: accounts".

The registry is part of canon version 2: :data:`REGISTRY_VERSION` names its contents, and any change to
them (a platform, an alias, a syntax) that changes an output is a new registry version and a new canon
version.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator
from . import _account

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["PLATFORMS", "REGISTRY_VERSION", "Platform", "account", "lookup"]

#: The version of the registry below; canon version 2 is defined with registry version 1.
REGISTRY_VERSION = 1

#: The suffix of a platform name that marks a numeric (non-handle) id: ``twitter-id:12345``.
ID_SUFFIX = "-id"


@dataclass(frozen=True)
class Platform:
    """One platform: its canonical ``name``, other names for it, and what its account ids look like.

    ``handle`` is the syntax of a handle after a leading ``@`` (and ``prefixes``, e.g. Reddit's ``u/``)
    are dropped and, with ``case_insensitive``, the handle is lowercased; ``numeric_id`` the syntax of its
    other ids (None: it has none), kept as written (numbers without leading zeros). ``handle=None`` marks
    an opaque id (the labs' own account ids): only the platform's name is resolved.
    """

    name: str
    aliases: tuple[str, ...]
    handle: re.Pattern[str] | None
    case_insensitive: bool = True
    numeric_id: re.Pattern[str] | None = re.compile(r"[0-9]{1,20}")
    prefixes: tuple[str, ...] = ()
    ids_first: bool = False  # a bare id that fits both syntaxes is the numeric id (YouTube channel ids)


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


#: Registry version 1. Handle syntaxes are the platforms' published rules (lowercase, as compared).
PLATFORMS: tuple[Platform, ...] = (
    # 1 to 39 of [a-z0-9-], no leading, trailing or double hyphen
    Platform("github", ("github.com", "gh"), _p(r"[a-z0-9](?:-?[a-z0-9]){0,38}")),
    Platform("twitter", ("x", "x.com", "twitter.com"), _p(r"[a-z0-9_]{1,15}")),
    Platform("reddit", ("reddit.com",), _p(r"[a-z0-9_-]{3,20}"), numeric_id=None, prefixes=("/u/", "u/")),
    # 5 to 32 characters, starting with a letter; ids of groups and channels are negative
    Platform(
        "telegram",
        ("tg", "t.me", "telegram.org"),
        _p(r"[a-z][a-z0-9_]{4,31}"),
        numeric_id=_p(r"-?[0-9]{1,20}"),
    ),
    # new-style (2023) usernames; a legacy "name#1234" tag is not a handle: give the numeric id
    Platform("discord", ("discord.com", "discordapp"), _p(r"[a-z0-9_.]{2,32}")),
    Platform("instagram", ("ig", "instagram.com"), _p(r"[a-z0-9._]{1,30}")),
    Platform("tiktok", ("tiktok.com",), _p(r"[a-z0-9._]{2,24}")),
    # @handles; channel ids ("UC" + 22 characters) are the numeric-id form, case kept
    Platform(
        "youtube",
        ("yt", "youtube.com"),
        _p(r"[a-z0-9._-]{3,30}"),
        numeric_id=_p(r"UC[A-Za-z0-9_-]{22}"),
        ids_first=True,
    ),
    # usernames of at least 5 characters, never all digits (all digits: a profile id)
    Platform("facebook", ("fb", "facebook.com"), _p(r"(?![0-9]+$)[a-z0-9.]{5,50}")),
    # public profile names (linkedin.com/in/<name>)
    Platform("linkedin", ("linkedin.com",), _p(r"[a-z0-9-]{3,100}"), numeric_id=None, prefixes=("in/",)),
    # the labs' own account ids: opaque, case kept; only the platform's name is resolved
    Platform("openai", ("openai.com", "chatgpt"), None, case_insensitive=False, numeric_id=None),
    Platform(
        "anthropic", ("anthropic.com", "claude", "claude.ai"), None, case_insensitive=False, numeric_id=None
    ),
)

_BY_NAME: dict[str, Platform] = {n: p for p in PLATFORMS for n in (p.name, *p.aliases)}


def lookup(name: str) -> tuple[Platform, bool] | None:
    """The platform a (lowercased) name or alias stands for, and whether it was the ``-id`` form; None for
    a platform not in the registry."""
    p = _BY_NAME.get(name)
    if p is not None:
        return p, False
    if name.endswith(ID_SUFFIX):
        p = _BY_NAME.get(name[: -len(ID_SUFFIX)])
        if p is not None and p.numeric_id is not None:
            return p, True
    return None


def account(value: str, opts: Options) -> str:
    """``account`` under canon version 2: version 1's ``platform:id``, then the registry (module doc)."""
    out = _account.account(value, opts)
    name, _, ident = out.partition(":")
    found = lookup(name)
    if found is None:
        return out
    p, id_form = found
    if p.handle is None:  # an opaque id
        return f"{p.name}:{ident}"
    if id_form:
        return _numeric(p, ident)
    handle = ident if ident.isascii() else unicodedata.normalize("NFKC", ident)
    at = handle.startswith("@")
    if not at and p.ids_first and p.numeric_id is not None and p.numeric_id.fullmatch(ident) is not None:
        return _numeric(p, ident)
    handle = handle[1:] if at else handle
    for prefix in p.prefixes:
        if handle[: len(prefix)].lower() == prefix:
            handle = handle[len(prefix) :]
            break
    if p.case_insensitive:
        handle = handle.lower()
    if p.handle.fullmatch(handle) is not None:
        return f"{p.name}:{handle}"
    if not at and p.numeric_id is not None and p.numeric_id.fullmatch(ident) is not None:
        return _numeric(p, ident)
    raise InvalidIndicator("account", f"not a {p.name} handle" + (" or id" if p.numeric_id else ""))


def _numeric(p: Platform, ident: str) -> str:
    if p.numeric_id is None or p.numeric_id.fullmatch(ident) is None:
        raise InvalidIndicator("account", f"not a {p.name} id")
    if ident.lstrip("-").isdigit():  # numbers: no leading zeros ("-0" is "0")
        n = int(ident)
        ident = str(n)
    return f"{p.name}{ID_SUFFIX}:{ident}"
