"""MISP event JSON: attribute types mapped to our kinds (table in ``docs/input-formats.md``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import MalformedFile
from ._common import InputBatch, InputRow, load_json
from ._ipkind import ip_or_cidr

__all__ = ["MISP_TYPES", "misp_from_doc", "parse_misp"]

Mapper = Callable[[str], list[tuple[str, str]] | None]


def _same(kind: str) -> Mapper:
    return lambda v: [(kind, v)]


def _ip(v: str) -> list[tuple[str, str]]:
    return [ip_or_cidr(v)]


def _account(platform: str) -> Mapper:
    return lambda v: [("account", f"{platform}:{v.strip()}")]


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
    "twitter-id": _account("twitter"),
    "AS": _same("asn"),
    "user-agent": _same("user-agent"),
    "text": _same("text"),
}


def _events(doc: Any, source: str) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(doc, dict) and "Event" in doc:
        ev = doc["Event"]
        if not isinstance(ev, dict):
            raise MalformedFile(f"{source}#Event: expected an object")
        return [("Event", ev)]
    items: Any = doc.get("response") if isinstance(doc, dict) else doc
    if isinstance(items, list):
        out = []
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not isinstance(it.get("Event"), dict):
                raise MalformedFile(f"{source}#[{i}]: expected an object with an 'Event' object")
            out.append((f"[{i}].Event", it["Event"]))
        return out
    raise MalformedFile(f"{source}: not a MISP event (no 'Event' object at the top)")


def _attributes(ev: dict[str, Any], where: str, source: str) -> Iterable[tuple[str, Any]]:
    attrs = ev.get("Attribute", [])
    if not isinstance(attrs, list):
        raise MalformedFile(f"{source}#{where}.Attribute: expected a list")
    for i, a in enumerate(attrs):
        yield f"{where}.Attribute[{i}]", a
    objs = ev.get("Object", [])
    if not isinstance(objs, list):
        raise MalformedFile(f"{source}#{where}.Object: expected a list")
    for j, o in enumerate(objs):
        if not isinstance(o, dict):
            raise MalformedFile(f"{source}#{where}.Object[{j}]: expected an object")
        oattrs = o.get("Attribute", [])
        if not isinstance(oattrs, list):
            raise MalformedFile(f"{source}#{where}.Object[{j}].Attribute: expected a list")
        for i, a in enumerate(oattrs):
            yield f"{where}.Object[{j}].Attribute[{i}]", a


def parse_misp(text: str, source: str) -> InputBatch:
    """Every attribute of every event (top-level ones and those inside objects).

    Deleted attributes are ignored (counted); attributes of a type not in :data:`MISP_TYPES`, or a
    composite value without its ``|``, are counted as unmapped ``misp:<type>``.
    """
    return misp_from_doc(load_json(text, source), source)


def misp_from_doc(doc: Any, source: str) -> InputBatch:
    """:func:`parse_misp` on an already parsed JSON document."""
    batch = InputBatch(source, "misp")
    for where, ev in _events(doc, source):
        for pos, a in _attributes(ev, where, source):
            if not isinstance(a, dict):
                raise MalformedFile(f"{source}#{pos}: expected an object")
            t, v = a.get("type"), a.get("value")
            if not isinstance(t, str):
                raise MalformedFile(f"{source}#{pos}: 'type' must be a string")
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)
            if not isinstance(v, str):
                raise MalformedFile(f"{source}#{pos}: 'value' must be a string")
            if a.get("deleted") in (True, "1", 1):
                batch.ignored["misp:deleted"] += 1
                continue
            mapper = MISP_TYPES.get(t)
            pairs = mapper(v) if mapper is not None else None
            if pairs is None:
                batch.unmapped[f"misp:{t[:64]}"] += 1
                continue
            batch.rows.extend(InputRow(k, val, f"{source}#{pos}") for k, val in pairs)
    return batch
