"""MISP event JSON: attribute types mapped to our kinds (table in ``docs/input-formats.md``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ..canonical import canonicalize, card_from_pan
from ..errors import InvalidIndicator, MalformedFile
from ._account import account_value
from ._common import InputBatch, load_json, safe_name
from ._ipkind import ip_or_cidr

__all__ = [
    "MISP_OBJECT_RELATIONS",
    "MISP_TYPES",
    "looks_like_misp",
    "map_attribute",
    "map_object",
    "misp_from_doc",
    "parse_misp",
]

Mapper = Callable[[str], list[tuple[str, str]] | None]


def _same(kind: str) -> Mapper:
    return lambda v: [(kind, v)]


def _ip(v: str) -> list[tuple[str, str]]:
    return [ip_or_cidr(v)]


def _account(platform: str) -> Mapper:
    return lambda v: [("account", account_value(platform, v))]


def _account_id(platform: str) -> Mapper:
    """A field holding the platform's id of an account: ``<platform>-id:<n>`` when it is a number of
    the platform (see :func:`~blindmatch.inputs._account.account_value`), else ``<platform>:<id>``."""
    return lambda v: [("account", account_value(platform, v, numeric=True))]


def _first_of_pair(kind: str) -> Mapper:
    """``value|port``: keep the first half (the port is not an indicator of ours)."""

    def m(v: str) -> list[tuple[str, str]] | None:
        head, sep, _ = v.partition("|")
        if not sep:
            return None
        return [ip_or_cidr(head)] if kind == "ip" else [(kind, head)]

    return m


def _domain_ip(v: str) -> list[tuple[str, str]] | None:
    dom, sep, ip = v.partition("|")
    if not sep:
        return None
    return [("domain", dom), ip_or_cidr(ip)]


#: MISP attribute type -> how its value becomes our ``(kind, value)`` pairs.
MISP_TYPES: dict[str, Mapper] = {
    "email": _same("email"),
    "email-src": _same("email"),
    "email-dst": _same("email"),
    "email-reply-to": _same("email"),
    "target-email": _same("email"),
    "whois-registrant-email": _same("email"),
    "dns-soa-email": _same("email"),
    "ip-src": _ip,
    "ip-dst": _ip,
    "ip-src|port": _first_of_pair("ip"),
    "ip-dst|port": _first_of_pair("ip"),
    "domain": _same("domain"),
    "hostname": _same("domain"),
    "hostname|port": _first_of_pair("domain"),
    "domain|ip": _domain_ip,
    "url": _same("url"),
    "phone-number": _same("phone"),
    "whois-registrant-phone": _same("phone"),
    "github-username": _account("github"),
    "twitter-id": _account_id("twitter"),
    "jabber-id": _account("jabber"),
    "btc": _same("crypto-address"),  # MISP's coin-address object also files EVM (0x) addresses as btc
    "iban": _same("iban"),
    "AS": _same("asn"),
    "user-agent": _same("user-agent"),
    "text": _same("text"),  # read only with misp_text=True: see _FREE_TEXT_TYPES
}

#: (MISP object name, object relation) -> mapper, tried before the attribute type. MISP stores many
#: identifiers of objects as ``text`` attributes (a Twitter handle is ``twitter-account``/``name``): the
#: relation says what the value is. Relations not listed fall back to the attribute's type.
MISP_OBJECT_RELATIONS: dict[tuple[str, str], Mapper] = {
    ("twitter-account", "name"): _account("twitter"),
    ("twitter-account", "username"): _account("twitter"),
    ("twitter-account", "id"): _account_id("twitter"),
    ("github-user", "username"): _account("github"),
    ("github-user", "id"): _account_id("github"),
    ("gitlab-user", "username"): _account("gitlab"),
    ("gitlab-user", "id"): _account_id("gitlab"),
    ("telegram-account", "username"): _account("telegram"),
    ("telegram-account", "id"): _account_id("telegram"),
    ("reddit-account", "account-name"): _account("reddit"),
    ("reddit-account", "account-id"): _account_id("reddit"),
    ("facebook-account", "account-name"): _account("facebook"),
    ("facebook-account", "account-id"): _account_id("facebook"),
    ("parler-account", "account-name"): _account("parler"),
    ("parler-account", "account-id"): _account_id("parler"),
    ("email", "from"): _same("email"),
    ("email", "to"): _same("email"),
    ("email", "cc"): _same("email"),
    ("email", "bcc"): _same("email"),
    ("email", "reply-to"): _same("email"),
    ("email", "return-path"): _same("email"),
    ("asn", "asn"): _same("asn"),
    ("http-request", "user-agent"): _same("user-agent"),
}

#: MISP objects whose login/id attributes are accounts of the platform their ``account-type`` names:
#: object name -> (relations holding a login or an id, the relation holding the platform).
_TYPED_ACCOUNT_OBJECTS: dict[str, tuple[frozenset[str], str]] = {
    "user-account": (frozenset({"username", "user-id"}), "account-type"),
}

#: Types with no kind of ours, counted under a reason that says why rather than as ``misp:<type>``. A
#: ``cc-number`` is a full card number: it becomes a ``card`` only inside a ``credit-card`` object with
#: its ``expiration`` (:func:`_card_row`), and the number itself is never kept.
_UNMAPPED_REASONS: dict[str, str] = {
    "xmr": "misp:xmr (Monero: no crypto-address form)",
    "cc-number": "misp:cc-number without expiry",
}

#: (object name, relation) never read, whatever the type and ``misp_text``: counted as ignored.
_NEVER_READ = frozenset({("credit-card", "card-security-code")})

#: Symbols of ``coin-address`` objects whose non-EVM addresses are Bitcoin's. An ``0x`` address is EVM
#: whatever the symbol (one namespace for every EVM chain); a Bitcoin-shaped address under another symbol
#: (``BCH`` legacy addresses look like Bitcoin's) is not read as Bitcoin.
_BITCOIN_SYMBOLS = frozenset({"BTC", "XBT"})

#: Attribute types that hold free text (descriptions, PE section names, PEM blobs): not offered as
#: indicators unless asked (``misp_text=True``); counted as ignored ``misp:text`` otherwise.
_FREE_TEXT_TYPES = frozenset({"text"})


def _at(where: str, sub: str) -> str:
    """A JSON position: ``sub`` inside ``where`` (the document itself when ``where`` is empty)."""
    if not where:
        return sub
    return f"{where}{sub}" if sub.startswith("[") else f"{where}.{sub}"


def _is_bare_event(doc: Any) -> bool:
    return isinstance(doc, dict) and "Event" not in doc and ("Attribute" in doc or "Object" in doc)


def looks_like_misp(doc: Any) -> bool:
    """Whether a parsed JSON document has one of the MISP shapes :func:`misp_from_doc` reads."""
    return (
        isinstance(doc, list)
        or (isinstance(doc, dict) and ("Event" in doc or "response" in doc))
        or _is_bare_event(doc)
    )


def _event_list(items: list[Any], where: str, source: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, it in enumerate(items):
        pos = _at(where, f"[{i}]")
        if isinstance(it, dict) and isinstance(it.get("Event"), dict):
            out.append((_at(pos, "Event"), it["Event"]))
        elif _is_bare_event(it):
            out.append((pos, it))
        else:
            raise MalformedFile(f"{source}#{pos}: expected an object with an 'Event' object")
    return out


def _events(doc: Any, source: str) -> list[tuple[str, dict[str, Any]]]:
    """``(position, event)`` for every event of the document; a ``restSearch`` attribute result is read as
    one event holding those attributes."""
    if isinstance(doc, dict) and "Event" in doc:
        ev = doc["Event"]
        if not isinstance(ev, dict):
            raise MalformedFile(f"{source}#Event: expected an object")
        return [("Event", ev)]
    if isinstance(doc, dict) and "response" in doc:
        resp = doc["response"]
        if isinstance(resp, list):
            return _event_list(resp, "response", source)
        if isinstance(resp, dict) and "Attribute" in resp:
            return [("response", resp)]  # restSearch with returnFormat json on /attributes
        raise MalformedFile(f"{source}#response: expected a list of events or an 'Attribute' list")
    if isinstance(doc, list):
        return _event_list(doc, "", source)
    if _is_bare_event(doc):
        return [("", doc)]  # PyMISP's MISPEvent.to_json(): the event without its wrapper
    raise MalformedFile(f"{source}: not a MISP event (no 'Event' object at the top)")


def _is_deleted(obj: dict[str, Any]) -> bool:
    return obj.get("deleted") in (True, "1", 1)


def _attributes(
    ev: dict[str, Any], where: str, batch: InputBatch
) -> Iterable[tuple[str, Any, dict[str, Any] | None]]:
    """``(position, attribute, its object or None)``; the attributes of deleted objects are skipped."""
    source = batch.source
    attrs = ev.get("Attribute", [])
    if not isinstance(attrs, list):
        raise MalformedFile(f"{source}#{_at(where, 'Attribute')}: expected a list")
    for i, a in enumerate(attrs):
        yield _at(where, f"Attribute[{i}]"), a, None
    objs = ev.get("Object", [])
    if not isinstance(objs, list):
        raise MalformedFile(f"{source}#{_at(where, 'Object')}: expected a list")
    for j, o in enumerate(objs):
        opos = _at(where, f"Object[{j}]")
        if not isinstance(o, dict):
            raise MalformedFile(f"{source}#{opos}: expected an object")
        oattrs = o.get("Attribute", [])
        if not isinstance(oattrs, list):
            raise MalformedFile(f"{source}#{opos}.Attribute: expected a list")
        if _is_deleted(o):
            batch.ignored["misp:deleted object"] += 1
            continue
        for i, a in enumerate(oattrs):
            yield f"{opos}.Attribute[{i}]", a, o


def map_attribute(
    batch: InputBatch,
    t: str,
    v: Any,
    pos: str,
    origin: str,
    *,
    relation: tuple[str, str] | None = None,
    text: bool = False,
    mapper: Mapper | None = None,
) -> None:
    """Add the rows of one attribute of type ``t`` (or count it as unmapped or ignored).

    ``pos`` names the attribute in messages, ``origin`` in rows; ``relation`` is ``(object name, object
    relation)`` for an attribute of an object; ``text`` reads free-text types. A value of an unmapped type
    is not looked at (MISP has numeric and boolean types); a mapped type needs a string (or integer).
    ``mapper``, when given, is used whatever the type and relation."""
    if relation in _NEVER_READ:
        batch.ignored[f"misp:{relation[0]} {relation[1]}"] += 1
        return
    if relation == ("credit-card", "cc-number") and mapper is None:  # whatever its type: a card number,
        batch.unmapped["misp:cc-number without expiry"] += 1  # never a row without the object's expiry
        return
    if mapper is None and relation is not None:
        mapper = MISP_OBJECT_RELATIONS.get(relation)
    if mapper is None and t in _FREE_TEXT_TYPES and not text:
        batch.ignored[f"misp:{safe_name(t)}"] += 1
        return
    if mapper is None:
        mapper = MISP_TYPES.get(t)
    if mapper is None:
        batch.unmapped[_UNMAPPED_REASONS.get(t, f"misp:{safe_name(t)}")] += 1
        return
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise MalformedFile(f"{batch.source}#{pos}: 'value' must be a string")
    pairs = mapper(v)
    if pairs is None:
        batch.unmapped[f"misp:{safe_name(t)}"] += 1
        return
    for k, val in pairs:
        batch.add(k, val, origin)


def parse_misp(text: str, source: str, *, misp_text: bool = False) -> InputBatch:
    """Every attribute of every event (top-level ones and those inside objects).

    Attributes of objects are mapped by (object name, relation) when :data:`MISP_OBJECT_RELATIONS` has
    them, otherwise by type. Free text (type ``text``) is read only with ``misp_text=True`` (otherwise
    counted as ignored ``misp:text``). Deleted attributes and objects are ignored (counted); attributes of
    a type not in :data:`MISP_TYPES`, or a composite value without its ``|``, are counted as unmapped
    ``misp:<type>``.
    """
    return misp_from_doc(load_json(text, source), source, misp_text=misp_text)


def _relation(obj: dict[str, Any] | None, a: dict[str, Any]) -> tuple[str, str] | None:
    if obj is None:
        return None
    name, rel = obj.get("name"), a.get("object_relation")
    return (name, rel) if isinstance(name, str) and isinstance(rel, str) else None


def _account_type(obj: dict[str, Any], relation: str) -> str | None:
    """The platform an object's ``relation`` attribute names (``user-account``'s ``account-type``),
    lowercased; None when it has none (or only a blank or deleted one)."""
    for a in obj.get("Attribute", []):
        if isinstance(a, dict) and a.get("object_relation") == relation and not _is_deleted(a):
            v = a.get("value")
            if isinstance(v, str) and v.strip():
                return v.strip().lower()
    return None


def _typed_account(obj: dict[str, Any] | None, a: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(object name, platform or None)`` when ``a`` is the login or id of a typed-account object."""
    rel = _relation(obj, a)
    if obj is None or rel is None or rel[0] not in _TYPED_ACCOUNT_OBJECTS:
        return None
    ids, type_relation = _TYPED_ACCOUNT_OBJECTS[rel[0]]
    return (rel[0], _account_type(obj, type_relation)) if rel[1] in ids else None


_ISO_MONTH = re.compile(r"\s*([0-9]{4})-([0-9]{2})(?:-[0-9]{2}(?:[T ].*)?)?\s*")


def _card_row(number: str, expiration: str) -> tuple[str, str] | None:
    """The ``card`` row (canonical masked form) of a card number and its expiry, or None when either is
    not valid. A full number goes through :func:`~blindmatch.canonical.card_from_pan`; a masked one
    through the ``card`` rule; either way the value kept holds six leading and four trailing digits only,
    and nothing of the number reaches an error or a count. ``expiration`` may be a MISP ``datetime``
    (``2028-09-30``, ``2028-09-30T00:00:00``: its year and month are kept) or any expiry the ``card``
    rule reads (``09/28``)."""
    m = _ISO_MONTH.fullmatch(expiration)
    exp = f"{m.group(1)}-{m.group(2)}" if m else expiration.strip()
    compact = number.replace(" ", "").replace("-", "")
    try:
        if compact.isascii() and compact.isdigit():
            return "card", card_from_pan(number, exp)
        return "card", canonicalize("card", f"{number}|{exp}", version=2)
    except InvalidIndicator:
        return None


def _relation_value(obj: dict[str, Any], relation: str) -> str | None:
    """The trimmed value of an object's first live ``relation`` attribute, or None."""
    for a in obj.get("Attribute", []):
        if isinstance(a, dict) and a.get("object_relation") == relation and not _is_deleted(a):
            v = a.get("value")
            if isinstance(v, str) and v.strip():
                return v.strip()
    return None


def _card(batch: InputBatch, obj: dict[str, Any], v: Any, pos: str, origin: str) -> None:
    """A ``credit-card`` object's ``cc-number``: a ``card`` row with the object's ``expiration``."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise MalformedFile(f"{batch.source}#{pos}: 'value' must be a string")
    exp = _relation_value(obj, "expiration")
    if exp is None:
        batch.unmapped["misp:cc-number without expiry"] += 1
        return
    row = _card_row(v, exp)
    if row is None:
        batch.unmapped["misp:cc-number invalid (number or expiry)"] += 1
    else:
        batch.add(row[0], row[1], origin)


def _coin_symbol_refused(obj: dict[str, Any], v: Any) -> bool:
    """Whether a ``coin-address`` object's ``address`` is of a coin we do not read as Bitcoin."""
    symbol = _relation_value(obj, "symbol")
    if symbol is None or not isinstance(v, str) or v.strip().lower().startswith(("0x", "evm:")):
        return False
    return symbol.upper() not in _BITCOIN_SYMBOLS


def _map_one(
    batch: InputBatch, t: str, a: dict[str, Any], obj: dict[str, Any] | None, pos: str, misp_text: bool
) -> None:
    origin = f"{batch.source}#{pos}"
    rel = _relation(obj, a)
    if obj is not None and rel == ("credit-card", "cc-number"):
        _card(batch, obj, a.get("value"), pos, origin)
        return
    if obj is not None and rel == ("coin-address", "address") and _coin_symbol_refused(obj, a.get("value")):
        batch.unmapped["misp:coin-address of a coin other than Bitcoin or an EVM chain"] += 1
        return
    typed = _typed_account(obj, a)
    if typed is None:
        map_attribute(batch, t, a.get("value"), pos, origin, relation=rel, text=misp_text)
    elif typed[1] is None:
        batch.unmapped[f"misp:{typed[0]} without account-type"] += 1
    else:
        numeric = a.get("object_relation") == "user-id"
        mapper = _account_id(typed[1]) if numeric else _account(typed[1])
        map_attribute(batch, t, a.get("value"), pos, origin, mapper=mapper)


def _map_checked(
    batch: InputBatch, a: Any, obj: dict[str, Any] | None, pos: str, misp_text: bool,
    seen: set[tuple[str, str]] | None,
) -> None:  # fmt: skip
    """One attribute: checked, skipped when deleted, mapped; with ``seen`` (inside an object) each
    ``(kind, value)`` is kept once."""
    if not isinstance(a, dict):
        raise MalformedFile(f"{batch.source}#{pos}: expected an object")
    t = a.get("type")
    if not isinstance(t, str):
        raise MalformedFile(f"{batch.source}#{pos}: 'type' must be a string")
    if _is_deleted(a):
        batch.ignored["misp:deleted"] += 1
        return
    start = len(batch.rows)
    _map_one(batch, t, a, obj, pos, misp_text)
    if seen is not None:
        new = batch.rows[start:]
        del batch.rows[start:]
        for row in new:
            if (row.kind, row.value) not in seen:
                seen.add((row.kind, row.value))
                batch.rows.append(row)


def map_object(
    batch: InputBatch, obj: dict[str, Any], attrs: list[Any], where: str, *, misp_text: bool = False
) -> None:
    """Add the rows of one MISP object's attributes ``attrs`` (found at ``where[i]``), as
    :func:`parse_misp` reads an object: by (object name, relation), each ``(kind, value)`` once.

    For objects MISP's STIX export writes as ``x-misp-object`` (``x_misp_name``, ``x_misp_attributes``).
    ``obj`` is ``{"name": ..., "Attribute": attrs}``."""
    seen: set[tuple[str, str]] = set()
    for i, a in enumerate(attrs):
        _map_checked(batch, a, obj, f"{where}[{i}]", misp_text, seen)


def misp_from_doc(doc: Any, source: str, *, misp_text: bool = False) -> InputBatch:
    """:func:`parse_misp` on an already parsed JSON document.

    An object gives each of its ``(kind, value)`` rows once (the first attribute's position is its origin),
    as MISP's STIX export makes one indicator of an object and a STIX indicator gives each value once."""
    batch = InputBatch(source, "misp")
    for where, ev in _events(doc, source):
        current: dict[str, Any] | None = None
        seen: set[tuple[str, str]] = set()
        for pos, a, obj in _attributes(ev, where, batch):
            if obj is not current:
                current, seen = obj, set()
            _map_checked(batch, a, obj, pos, misp_text, seen if obj is not None else None)
    return batch
