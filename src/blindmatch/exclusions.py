"""Benign values to leave out before an exchange: per-kind exclusion lists (issue 13, item 6).

A match is a lead, not a verdict; values every lab sees for benign reasons (documentation and reserved
address ranges, the large free-mail domains, a lab's own cloud, VPN or Tor exit ranges, public jailbreak
prompts) only make noise. :class:`Exclusions` holds named lists, each for one kind, and tells for a
canonical value which list excludes it; :meth:`Exclusions.split` keeps the rest and counts the excluded
by list (never by value). The shipped lists (:data:`SHIPPED`) are facts from IANA's special-purpose
address registries (RFC 6890 and its updates) and a short list of the largest free-mail providers; a
user list is a text file of canonical values (or CIDR ranges, for ``ip``), one a line.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .canonical import CANON_VERSION, canonicalize
from .errors import InvalidIndicator, InvalidParameter

__all__ = ["FREE_MAIL_DOMAINS", "RESERVED_NETWORKS", "SHIPPED", "ExclusionList", "Exclusions"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_TRAILING_COMMENT_KINDS = frozenset({"ip", "cidr", "domain", "email", "url"})

#: IANA special-purpose blocks (IPv4 and IPv6 Special-Purpose Address Registries; RFC 6890, 5737, 3849,
#: 6598, 7526 ...): no address in them is an Internet host a lab could have seen for a real reason.
RESERVED_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64", "2001::/23", "2001:db8::/32",
    "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
)  # fmt: skip

#: The largest free-mail providers' domains: a shared ``domain`` indicator among them says nothing.
FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com",
    "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com", "gmx.com",
    "gmx.de", "gmx.net", "web.de", "mail.com", "mail.ru", "yandex.ru", "yandex.com", "qq.com", "163.com",
    "126.com", "zoho.com", "tutanota.com", "fastmail.com",
)  # fmt: skip


@dataclass(frozen=True)
class ExclusionList:
    """One named list for one kind: exact canonical values, and (``ip`` / ``cidr``) networks."""

    name: str
    kind: str
    values: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.name.isprintable() or len(self.name) > 64:
            raise InvalidParameter("an exclusion list's name is 1-64 printable characters")
        if self.networks and self.kind not in ("ip", "cidr"):
            raise InvalidParameter("only ip and cidr lists hold networks")

    def excludes(self, canonical: str) -> bool:
        if canonical in self.values:
            return True
        if not self.networks:
            return False
        try:
            net = ipaddress.ip_network(canonical, strict=False)
        except ValueError:
            return False
        return any(net.version == n.version and net.subnet_of(n) for n in self.networks)  # type: ignore[arg-type]

    @classmethod
    def from_lines(
        cls, name: str, kind: str, lines: Iterable[str], *, canon_version: int = CANON_VERSION
    ) -> ExclusionList:
        """A user list: one value (or, for ``ip``/``cidr``, a CIDR range) a line. A line whose first
        non-blank character is ``#`` is a comment; for the network kinds (``ip``, ``cidr``, ``domain``,
        ``email``, ``url``), whose values hold no ``" #"``, so is the rest of a line after ``" #"``; in
        other kinds (prompts, text, ...) a ``#`` is part of the value. Values are canonicalized under
        ``canon_version`` (the set's); a bad line raises ``InvalidIndicator`` naming it by number only."""
        values: set[str] = set()
        networks: list[Network] = []
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if kind in _TRAILING_COMMENT_KINDS:
                line = line.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            try:
                if kind in ("ip", "cidr") and "/" in line:
                    cidr = canonicalize("cidr", line, version=canon_version)
                    networks.append(ipaddress.ip_network(cidr, strict=False))
                else:
                    values.add(canonicalize(kind, line, version=canon_version))
            except InvalidIndicator as exc:
                raise InvalidIndicator(kind, f"{exc.reason} (exclusion list {name}, line {number})") from None
        return cls(name, kind, frozenset(values), tuple(networks))

    @classmethod
    def from_file(
        cls, path: str | Path, kind: str, name: str | None = None, *, canon_version: int = CANON_VERSION
    ) -> ExclusionList:
        p = Path(path)
        return cls.from_lines(
            name or p.stem, kind, p.read_text("utf-8").splitlines(), canon_version=canon_version
        )


def _reserved(kind: str) -> ExclusionList:
    nets = tuple(ipaddress.ip_network(n) for n in RESERVED_NETWORKS)
    return ExclusionList("reserved-and-documentation-addresses", kind, networks=nets)


#: The lists applied unless a caller chooses others.
SHIPPED: tuple[ExclusionList, ...] = (
    _reserved("ip"),
    _reserved("cidr"),
    ExclusionList("free-mail-domains", "domain", frozenset(FREE_MAIL_DOMAINS)),
)


@dataclass(frozen=True)
class Exclusions:
    """Several lists; :meth:`reason` names the first list (in order) that excludes a value."""

    lists: tuple[ExclusionList, ...] = field(default_factory=lambda: SHIPPED)

    @classmethod
    def from_specs(cls, specs: Sequence[str], *, canon_version: int = CANON_VERSION) -> Exclusions | None:
        """Lists named as the command line and :class:`~blindmatch.InputSpec` name them: ``shipped`` (the
        lists of :data:`SHIPPED`) or ``KIND=FILE`` (a user list, named after the file). ``None`` when
        ``specs`` is empty (nothing is excluded)."""
        lists: list[ExclusionList] = []
        for spec in specs:
            if spec == "shipped":
                lists.extend(SHIPPED)
                continue
            kind, eq, path = spec.partition("=")
            if not eq or not kind or not path:
                raise InvalidParameter(f"an exclusion is 'shipped' or KIND=FILE, not {spec!r}")
            try:
                lists.append(ExclusionList.from_file(path, kind, canon_version=canon_version))
            except OSError as exc:
                why = exc.strerror or exc
                raise InvalidParameter(f"cannot read the exclusion list {path}: {why}") from None
        return cls(tuple(lists)) if lists else None

    def with_lists(self, extra: Sequence[ExclusionList]) -> Exclusions:
        return Exclusions((*self.lists, *extra))

    def names(self, kind: str | None = None) -> list[str]:
        """The lists that apply (to ``kind``), for a report to say which exclusions applied."""
        return [x.name for x in self.lists if kind is None or x.kind == kind]

    def reason(self, kind: str, canonical: str) -> str | None:
        for x in self.lists:
            if x.kind == kind and x.excludes(canonical):
                return x.name
        return None

    def split(self, kind: str, canonical: Iterable[str]) -> tuple[list[str], Counter[str]]:
        """The values no list excludes, and how many each list left out."""
        kept: list[str] = []
        counts: Counter[str] = Counter()
        applicable = [x for x in self.lists if x.kind == kind]
        for value in canonical:
            hit = next((x.name for x in applicable if x.excludes(value)), None)
            if hit is None:
                kept.append(value)
            else:
                counts[hit] += 1
        return kept, counts
