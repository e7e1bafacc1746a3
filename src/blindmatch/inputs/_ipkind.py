"""Deciding between ``ip`` and ``cidr`` for an address written by another tool."""

from __future__ import annotations

__all__ = ["ip_or_cidr"]


def ip_or_cidr(value: str) -> tuple[str, str]:
    """``(kind, value)``: a host prefix (``/32`` for IPv4, ``/128`` for IPv6) is dropped as MISP does;
    any other prefix makes the value a ``cidr``. The value is otherwise left for canonicalization."""
    v = value.strip()
    if "/" not in v:
        return "ip", value
    addr, _, prefix = v.rpartition("/")
    p = prefix.strip()
    if (p == "32" and ":" not in addr) or (p == "128" and ":" in addr):
        return "ip", addr
    return "cidr", value
