"""The table of canonicalization rules, one function per kind (canon version 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import _account, _domain, _email, _net, _phone, _text, _url


class Options(NamedTuple):
    """Per-call options a rule may use."""

    default_region: str | None = None


Rule = Callable[[str, Options], str]

RULES: dict[str, Rule] = {
    "email": _email.email,
    "ip": _net.ip,
    "cidr": _net.cidr,
    "domain": _domain.domain,
    "url": _url.url,
    "phone": _phone.phone,
    "account": _account.account,
    "asn": _account.asn,
    "prompt": _text.prompt,
    "user-agent": _text.user_agent,
    "api-key": _text.opaque("api-key"),
    "payment-fingerprint": _text.opaque("payment-fingerprint"),
    "device-fingerprint": _text.opaque("device-fingerprint"),
    "text": _text.opaque("text"),
}
