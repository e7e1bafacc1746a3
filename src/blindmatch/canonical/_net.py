"""Rules for ``ip`` and ``cidr``: a strict parser and our own RFC 5952 formatter.

We do not use ``str(ipaddress.ip_address(x))``: its text for IPv4-mapped IPv6 differs between Python
versions (gh-87799), and which inputs it accepts (leading zeros, zone ids) changed too. Both parties must
produce byte-identical text, so the parser and the formatter here are ours and fixed by canon version 1.
"""

from __future__ import annotations

import re
import socket
import struct
import unicodedata
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["cidr", "format_ipv6", "ip", "parse_ip"]

MAX_INPUT = 128  # the longest IPv6 CIDR text is 43 characters; anything much longer is not an address

# A dotted quad: four decimal octets 0..255, no leading zeros ("0" itself is fine), ASCII digits only.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
_HEXGROUP_RE = re.compile(r"[0-9a-fA-F]{1,4}")
# RFC 3986 s.3.2.2 IPv6address (the RFC 4291 s.2.2 text forms), with our strict dotted quad as ls32's IPv4.
_H16 = r"[0-9a-fA-F]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET})"
_IPV6_RE = re.compile(
    "|".join(
        [
            rf"(?:{_H16}:){{6}}{_LS32}",
            rf"::(?:{_H16}:){{5}}{_LS32}",
            rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
            rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
            rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
            rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
            rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
            rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
            rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
        ]
    )
)
_EIGHT_U16 = struct.Struct(">8H")
_GROUPS_FMT = ":%x:%x:%x:%x:%x:%x:%x:%x:"  # lowercase hex, no leading zeros, colons at both ends
_ZERO_RUNS = {k: ":" + ":".join(["0"] * k) + ":" for k in range(2, 9)}  # k zero groups, colons around
_PREFIX_RE = re.compile(r"0|[1-9][0-9]{0,2}")
_CIDR4_RE = re.compile(rf"({_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET})/(3[0-2]|[12][0-9]|[0-9])")
_MAPPED_PREFIX = 0xFFFF << 32  # ::ffff:0:0/96


def _fail(kind: str, reason: str) -> InvalidIndicator:
    return InvalidIndicator(kind, reason)


def _parse_ipv4(kind: str, text: str) -> int:
    if _IPV4_RE.fullmatch(text) is None:
        if text.count(".") == 3 and all(p.isdigit() and p.isascii() for p in text.split(".")):
            raise _fail(kind, "IPv4 octet with a leading zero or above 255")
        raise _fail(kind, "not an IP address")
    a, b, c, d = text.split(".")
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def _parse_groups(kind: str, part: str) -> list[int]:
    if not part:
        return []
    out = []
    for g in part.split(":"):
        if _HEXGROUP_RE.fullmatch(g) is None:
            raise _fail(kind, "not an IP address")
        out.append(int(g, 16))
    return out


def _parse_ipv6(kind: str, text: str) -> int:
    """Parse RFC 4291 s.2.2 text (all three forms) to a 128-bit integer."""
    tail_v4: int | None = None
    if "." in text:
        head, sep, last = text.rpartition(":")
        if not sep:
            raise _fail(kind, "not an IP address")
        tail_v4 = _parse_ipv4(kind, last)
        # keep the colon in front of the IPv4 part so "::1.2.3.4" still has its "::"
        text = head + ":" if head.endswith(":") else head
    n_groups = 6 if tail_v4 is not None else 8
    if "::" in text:
        left, _, right = text.partition("::")
        if "::" in right:
            raise _fail(kind, "more than one '::' in an IPv6 address")
        lg = _parse_groups(kind, left)
        rg = _parse_groups(kind, right)
        if len(lg) + len(rg) > n_groups - 1:
            raise _fail(kind, "too many IPv6 groups")
        groups = lg + [0] * (n_groups - len(lg) - len(rg)) + rg
    else:
        groups = _parse_groups(kind, text)
        if len(groups) != n_groups:
            raise _fail(kind, "wrong number of IPv6 groups")
    value = 0
    for g in groups:
        value = (value << 16) | g
    if tail_v4 is not None:
        value = (value << 32) | tail_v4
    return value


def parse_ip(kind: str, text: str) -> tuple[int, int]:
    """Parse an IPv4 or IPv6 address (no prefix, zone or brackets) to ``(version, integer)``.

    Valid text is recognised by one strict regular expression (the RFC 3986 grammar) and converted by
    ``inet_pton``, whose output for text in that grammar is fixed by POSIX on every platform; the
    step-by-step parser below runs only to name the reason for a rejection (the tests check that both
    accept exactly the same strings and give the same numbers).
    """
    if _IPV4_RE.fullmatch(text) is not None:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    if _IPV6_RE.fullmatch(text) is not None:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    return _parse_ip_slow(kind, text)


def _parse_ip_slow(kind: str, text: str) -> tuple[int, int]:
    """Reference parser, step by step, with a specific reason for each rejection."""
    if "%" in text:
        raise _fail(kind, "zone ids are not allowed")
    if "[" in text or "]" in text:
        raise _fail(kind, "brackets are not allowed")
    if ":" in text:
        return 6, _parse_ipv6(kind, text)
    return 4, _parse_ipv4(kind, text)


def format_ipv4(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def format_ipv6(value: int) -> str:
    """RFC 5952 s.4 text: lowercase hex, no leading zeros, the longest run (the first of equal runs) of
    two or more zero groups written as ``::``; a single zero group is written as ``0``."""
    padded = _GROUPS_FMT % _EIGHT_U16.unpack(value.to_bytes(16, "big"))  # ":2001:db8:0:...:1:"
    at = padded.find(":0:0:")
    if at < 0:
        return padded[1:-1]  # no run of two or more zero groups
    size = 2  # grow the run while a longer one exists; find() keeps the first of equally long runs
    while size < 8:
        longer = padded.find(_ZERO_RUNS[size + 1])
        if longer < 0:
            break
        at, size = longer, size + 1
    end = at + len(_ZERO_RUNS[size])
    return ("" if at == 0 else padded[1:at]) + "::" + ("" if end == len(padded) else padded[end:-1])


def _prepare(kind: str, value: str) -> str:
    if len(value) > MAX_INPUT:
        raise _fail(kind, "too long")
    if not value.isascii():
        # Fullwidth digits and the like: NFKC maps them to ASCII; anything still non-ASCII is rejected.
        value = unicodedata.normalize("NFKC", value)
        if not value.isascii():
            raise _fail(kind, "non-ASCII character")
    value = value.strip()
    if not value:
        raise _fail(kind, "empty")
    return value


def ip(value: str, _opts: Options) -> str:
    """``ip``: IPv4 dotted quad, or RFC 5952 IPv6; IPv4-mapped IPv6 becomes the IPv4 address."""
    text = _prepare("ip", value)
    if _IPV4_RE.fullmatch(text) is not None:
        return text  # a dotted quad without leading zeros is already canonical
    if "/" in text:
        raise _fail("ip", "prefixes are not allowed (use kind 'cidr')")
    version, n = parse_ip("ip", text)
    if version == 4:
        return format_ipv4(n)
    if n >> 32 == 0xFFFF:
        return format_ipv4(n & 0xFFFFFFFF)
    return format_ipv6(n)


def cidr(value: str, _opts: Options) -> str:
    """``cidr``: network address with host bits cleared, then ``/prefix``; IPv4-mapped IPv6 networks of
    prefix 96 or longer become IPv4 networks (prefix - 96)."""
    text = _prepare("cidr", value)
    m = _CIDR4_RE.fullmatch(text)
    if m is not None:  # the common case, IPv4: one regex, then the arithmetic
        addr4, plen4 = m.groups()
        whole, bits = divmod(int(plen4), 8)
        if whole == 4:
            return text  # a /32 of a valid dotted quad is already canonical
        octets = addr4.split(".")
        octets[whole] = str(int(octets[whole]) & (0xFF00 >> bits) & 0xFF) if bits else "0"
        for i in range(whole + 1, 4):
            octets[i] = "0"
        return f"{'.'.join(octets)}/{plen4}"
    addr, sep, plen_text = text.partition("/")
    if not sep:
        raise _fail("cidr", "missing '/prefix'")
    if _PREFIX_RE.fullmatch(plen_text) is None:
        raise _fail("cidr", "prefix length is not a decimal number without leading zeros")
    plen = int(plen_text)
    version, n = parse_ip("cidr", addr)
    bits = 32 if version == 4 else 128
    if plen > bits:
        raise _fail("cidr", f"prefix length above {bits}")
    host_mask = (1 << (bits - plen)) - 1
    n &= ~host_mask
    if version == 4:
        return f"{format_ipv4(n)}/{plen}"
    if plen >= 96 and n >> 32 == 0xFFFF:
        return f"{format_ipv4(n & 0xFFFFFFFF)}/{plen - 96}"
    return f"{format_ipv6(n)}/{plen}"
