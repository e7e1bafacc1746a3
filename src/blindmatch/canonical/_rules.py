"""The tables of canonicalization rules, one function per kind, per canon version.

Version 1 (``RULES``) is frozen: its outputs are pinned by ``tests/vectors/canonical-v1.json``. Version 2
(``RULES_V2``, work in progress, issue 13) starts as a copy of version 1; each v2 change replaces or adds
an entry here (one line per kind), in the module that holds its rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import _account, _card, _crypto, _domain, _email, _iban, _net, _org, _phone, _platforms, _text, _url


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

#: Canon version 2 (issue 13): version 1's rules, then each v2 change below (a new kind or a new rule).
RULES_V2: dict[str, Rule] = {
    **RULES,
    "account": _platforms.account,  # platform registry: aliases, handles vs numeric ids (_platforms.py)
    "crypto-address": _crypto.crypto_address,  # issue 13 item 4: Bitcoin and EVM addresses
    "card": _card.card,  # issue 13 item 4: BIN + last four + expiry; full numbers refused
    "iban": _iban.iban,  # issue 13 item 4: ISO 13616
    "org": _org.org,  # issue 13 item 4: organization names (opt-in)
}

#: Every canon version this library can apply.
RULES_BY_VERSION: dict[int, dict[str, Rule]] = {1: RULES, 2: RULES_V2}
