"""STIX 2.1 bundles: indicators with simple equality patterns, and cyber-observable objects.

Mapping tables are in ``docs/input-formats.md``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..errors import MalformedFile
from ._account import account_value
from ._common import InputBatch, load_json, safe_name
from ._ipkind import ip_or_cidr
from .misp import map_attribute, map_object
from .stix_pattern import (
    Comparison,
    PatternSyntaxError,
    PatternTooLarge,
    UnsupportedPattern,
    equality_groups,
)

__all__ = [
    "STIX_MISP_CUSTOM_OBJECTS",
    "STIX_MISP_CUSTOM_TYPES",
    "STIX_OBSERVABLES",
    "STIX_PATTERN_PATHS",
    "looks_like_stix",
    "parse_stix",
    "stix_from_doc",
]

#: Object path in a pattern -> our kind (``ip`` may become ``cidr`` when the value has a prefix).
STIX_PATTERN_PATHS: dict[str, str] = {
    "email-addr:value": "email",
    "ipv4-addr:value": "ip",
    "ipv6-addr:value": "ip",
    "domain-name:value": "domain",
    "url:value": "url",
    "network-traffic:src_ref.value": "ip",
    "network-traffic:dst_ref.value": "ip",
    "email-message:from_ref.value": "email",
    "email-message:sender_ref.value": "email",
    "email-message:to_refs[*].value": "email",
    "email-message:cc_refs[*].value": "email",
    "email-message:bcc_refs[*].value": "email",
    # what MISP's STIX 2.1 export writes for AS, email-reply-to, user-agent and domain|ip attributes
    "autonomous-system:number": "asn",
    "autonomous-system:x_misp_subnet_announced": "ip",  # MISP's asn object; a prefix makes it a cidr
    "email-message:additional_header_fields.reply_to": "email",
    "email-message:additional_header_fields.'Reply-To'": "email",
    "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'": "user-agent",
    "domain-name:resolves_to_refs[*].value": "ip",  # or "domain" when the value is not an address
    # what MISP's export writes for the other identifiers of its domain-ip and url objects
    "domain-name:x_misp_hostname": "domain",
    "url:x_misp_domain": "domain",
    "url:x_misp_host": "domain",
    "url:x_misp_ip": "ip",
}

#: The request line's target: a URL (MISP's http-request ``url``) or a bare path (its ``uri``, not ours).
_HTTP_REQUEST_VALUE = "network-traffic:extensions.'http-request-ext'.request_value"
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")

_LIST_INDEX = re.compile(r"\[[0-9]+\]")

#: Paths whose STIX property is an integer: an integer literal (``number = 64500``) is read there only.
_INTEGER_PATHS = frozenset({"autonomous-system:number"})

#: Paths that only qualify another comparison of the same group; they are consumed, not counted.
_HELPER_PATHS = frozenset(
    {"network-traffic:src_ref.type", "network-traffic:dst_ref.type", "user-account:account_type"}
)
_ACCOUNT_IDS = ("user-account:account_login", "user-account:user_id")

#: Cyber-observable object type -> (our kind, property holding the value). ``user-account`` is special.
STIX_OBSERVABLES: dict[str, tuple[str, str]] = {
    "email-addr": ("email", "value"),
    "ipv4-addr": ("ip", "value"),
    "ipv6-addr": ("ip", "value"),
    "domain-name": ("domain", "value"),
    "url": ("url", "value"),
}

#: MISP attribute types whose MISP STIX export is a custom ``x-misp-attribute`` (``x_misp_type``,
#: ``x_misp_value``; older releases: ``x-misp-object-<type>`` with ``x_misp_value``), read through the MISP
#: type map. Other custom attributes stay unmapped ``stix:x-misp-attribute``.
STIX_MISP_CUSTOM_TYPES = frozenset(
    {
        "btc", "xmr", "iban", "bic", "bank-account-nr", "cc-number", "jabber-id", "github-username",
        "twitter-id",
    }
)  # fmt: skip
#: MISP objects whose export is a custom ``x-misp-object`` (``x_misp_name``, ``x_misp_attributes``), read
#: as :func:`~blindmatch.inputs.misp.parse_misp` reads the object. Others stay unmapped
#: ``stix:x-misp-object``.
STIX_MISP_CUSTOM_OBJECTS = frozenset({"bank-account", "btc-wallet", "coin-address", "credit-card"})

#: STIX 2.1 cyber-observable types: those we do not map are counted as unmapped, not ignored.
_SCO_TYPES = frozenset(
    {
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
        "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software",
        "url", "user-account", "windows-registry-key", "x509-certificate",
    }
)  # fmt: skip


def _kind_value(kind: str, value: str) -> tuple[str, str]:
    return ip_or_cidr(value) if kind == "ip" else (kind, value)


def _path_key(path: str) -> str:
    """The table key of a pattern path: a list index (``to_refs[0]``) reads as any element (``[*]``)."""
    return _LIST_INDEX.sub("[*]", path) if "[" in path else path


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return True


def _resolved(value: str) -> tuple[str, str]:
    """A ``resolves_to_refs`` value: an address (``ip``/``cidr``) or a domain name (STIX allows both)."""
    return ip_or_cidr(value) if _is_address(value) else ("domain", value)


_REF_TYPE_PATHS = {
    "network-traffic:src_ref.value": "network-traffic:src_ref.type",
    "network-traffic:dst_ref.value": "network-traffic:dst_ref.type",
}


_ADDRESS_TYPES = frozenset({"ipv4-addr", "ipv6-addr"})


def _ref_value(group: list[Comparison], value_path: str, value: str) -> tuple[str, str] | str:
    """A ``*_ref.value``: its ``(kind, value)``, or why it is not read (an unmapped reason).

    The ``*_ref.type`` comparisons of the group select what the value is, not which values are read:
    misp-stix writes one AND group holding an ``ipv4-addr`` reference and a ``domain-name`` one (its
    ``ip-port`` and ``http-request`` objects). An address is read when its family is declared (or no type
    is), a name when ``domain-name`` is declared; a value no declared type fits is not ours to guess."""
    declared = {c.value for c in group if c.path == _REF_TYPE_PATHS[value_path]}
    if _is_address(value):
        family = "ipv6-addr" if ":" in value else "ipv4-addr"
        if not declared or family in declared:
            return ip_or_cidr(value)
        return "stix:network-traffic address contradicts its declared type"
    if "domain-name" in declared:
        return "domain", value
    if declared and not declared & _ADDRESS_TYPES:
        return "stix:network-traffic reference to a non-IP object"
    return ip_or_cidr(value)  # no type, or an address type: read as written (canonicalization judges it)


def _from_group(group: list[Comparison], batch: InputBatch) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    acct_types = [c.value for c in group if c.path == "user-account:account_type"]
    for c in group:
        value = c.value
        if not isinstance(value, str):  # equality_groups only returns string (or integer text) comparisons
            continue
        if c.literal == "int" and c.path not in _INTEGER_PATHS:
            batch.unmapped[f"stix-path:{safe_name(c.path, 80)} (integer)"] += 1
        elif c.path in _REF_TYPE_PATHS:
            read = _ref_value(group, c.path, value)
            if isinstance(read, str):
                batch.unmapped[read] += 1
            else:
                out.append(read)
        elif c.path == _HTTP_REQUEST_VALUE and _ABSOLUTE_URL.match(value.strip()):
            out.append(("url", value))
        elif _path_key(c.path) == "domain-name:resolves_to_refs[*].value":
            out.append(_resolved(value))
        elif _path_key(c.path) in STIX_PATTERN_PATHS:
            out.append(_kind_value(STIX_PATTERN_PATHS[_path_key(c.path)], value))
        elif c.path in _ACCOUNT_IDS:
            if len(acct_types) == 1 and isinstance(acct_types[0], str) and acct_types[0].strip():
                numeric = c.path == "user-account:user_id"
                out.append(("account", account_value(acct_types[0], value, numeric=numeric)))
            else:
                batch.unmapped["stix:user-account without one account_type"] += 1
        elif c.path not in _HELPER_PATHS:
            batch.unmapped[f"stix-path:{safe_name(c.path, 80)}"] += 1
    return out


def _indicator(obj: dict[str, Any], pos: str, batch: InputBatch) -> None:
    source = batch.source
    ptype = obj.get("pattern_type", "stix")
    pattern = obj.get("pattern")
    if not isinstance(ptype, str) or not isinstance(pattern, str):
        raise MalformedFile(f"{source}#{pos}: indicator needs string 'pattern' and 'pattern_type'")
    if ptype != "stix":
        batch.unmapped[f"stix:pattern_type {ptype[:40]}"] += 1
        return
    try:
        groups = equality_groups(pattern)
    except PatternSyntaxError as exc:
        raise MalformedFile(f"{source}#{pos}: invalid STIX pattern: {exc}") from None
    except PatternTooLarge:
        batch.unmapped["stix:pattern too large"] += 1
        return
    except UnsupportedPattern:
        batch.unmapped["stix:unsupported pattern"] += 1
        return
    seen: set[tuple[str, str]] = set()
    for group in groups:
        for kv in _from_group(group, batch):
            if kv not in seen:
                seen.add(kv)
                batch.add(kv[0], kv[1], f"{source}#{pos}")


def _str_prop(obj: dict[str, Any], name: str, source: str, pos: str) -> str | None:
    v = obj.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise MalformedFile(f"{source}#{pos}: '{name}' must be a string")
    return v


def _observable(obj: dict[str, Any], t: str, pos: str, batch: InputBatch) -> None:
    source = batch.source
    if t == "user-account":
        atype = _str_prop(obj, "account_type", source, pos)
        ids = [(n, v) for n in ("account_login", "user_id") if (v := _str_prop(obj, n, source, pos))]
        if not ids:
            batch.unmapped["stix:user-account without account_login or user_id"] += 1
        elif not atype or not atype.strip():
            batch.unmapped["stix:user-account without account_type"] += 1
        else:
            for n, v in ids:
                batch.add("account", account_value(atype, v, numeric=n == "user_id"), f"{source}#{pos}")
        return
    if t == "autonomous-system":
        number = obj.get("number")
        if isinstance(number, int) and not isinstance(number, bool):
            batch.add("asn", str(number), f"{source}#{pos}")
        elif isinstance(number, str) and number.strip():
            batch.add("asn", number, f"{source}#{pos}")
        else:
            batch.unmapped["stix:autonomous-system without number"] += 1
        return
    kind, prop = STIX_OBSERVABLES[t]
    value = _str_prop(obj, prop, source, pos)
    if value is None:
        raise MalformedFile(f"{source}#{pos}: {t} object without '{prop}'")
    k, v = _kind_value(kind, value)
    batch.add(k, v, f"{source}#{pos}")


def _object(obj: Any, pos: str, batch: InputBatch) -> None:
    if not isinstance(obj, dict):
        raise MalformedFile(f"{batch.source}#{pos}: expected an object")
    t = obj.get("type")
    if not isinstance(t, str):
        raise MalformedFile(f"{batch.source}#{pos}: 'type' must be a string")
    if obj.get("revoked") is True:
        batch.ignored["stix:revoked"] += 1
    elif t == "indicator":
        _indicator(obj, pos, batch)
    elif t in STIX_OBSERVABLES or t in ("user-account", "autonomous-system"):
        _observable(obj, t, pos, batch)
    elif t == "x-misp-attribute" or t.startswith("x-misp-object-"):
        _misp_custom_attribute(obj, t, pos, batch)
    elif t == "x-misp-object":
        _misp_custom_object(obj, pos, batch)
    elif t == "observed-data" and isinstance(obj.get("objects"), dict):
        # STIX 2.0 style: observables embedded in the observed-data object.
        for key, sub in obj["objects"].items():
            _object(sub, f"{pos}.objects[{str(key)[:20]!r}]", batch)
    elif t in _SCO_TYPES or t.startswith("x-"):
        batch.unmapped[f"stix:{safe_name(t)}"] += 1
    else:
        batch.ignored[f"stix:{safe_name(t)}"] += 1


def _misp_custom_attribute(obj: dict[str, Any], t: str, pos: str, batch: InputBatch) -> None:
    """MISP's export of an attribute STIX has no object for: ``x-misp-attribute`` (or, from older
    releases, ``x-misp-object-<type>``) holding the MISP type and value."""
    mtype = obj.get("x_misp_type") if t == "x-misp-attribute" else t[len("x-misp-object-") :]
    if not isinstance(mtype, str) or mtype not in STIX_MISP_CUSTOM_TYPES:
        batch.unmapped[f"stix:{safe_name(t)}"] += 1
        return
    map_attribute(batch, mtype, obj.get("x_misp_value"), pos, f"{batch.source}#{pos}")


def _misp_custom_object(obj: dict[str, Any], pos: str, batch: InputBatch) -> None:
    """MISP's export of an object STIX has no object for: ``x-misp-object`` with ``x_misp_name`` and the
    MISP attributes in ``x_misp_attributes``."""
    name, attrs = obj.get("x_misp_name"), obj.get("x_misp_attributes")
    if not isinstance(name, str) or name not in STIX_MISP_CUSTOM_OBJECTS:
        batch.unmapped["stix:x-misp-object"] += 1
        return
    if not isinstance(attrs, list):
        raise MalformedFile(f"{batch.source}#{pos}: 'x_misp_attributes' must be a list")
    map_object(batch, {"name": name, "Attribute": attrs}, attrs, f"{pos}.x_misp_attributes")


def _is_envelope(doc: dict[str, Any]) -> bool:
    """A TAXII 2.1 envelope: ``objects`` and/or ``more``/``next``, no ``type`` (an empty one may be ``{}``,
    which is not recognised: give the format)."""
    return "type" not in doc and ("objects" in doc or "more" in doc) and "Event" not in doc


def looks_like_stix(doc: Any) -> bool:
    """Whether a parsed JSON document is a bundle, a TAXII 2.1 envelope or a list of STIX objects."""
    if isinstance(doc, dict):
        return doc.get("type") == "bundle" or _is_envelope(doc)
    if isinstance(doc, list) and doc:
        first = doc[0]
        return (
            isinstance(first, dict) and "type" in first and "Event" not in first and "Attribute" not in first
        )
    return False


def parse_stix(text: str, source: str) -> InputBatch:
    """Every object of a bundle (``{"type": "bundle", "objects": [...]}``), of a TAXII 2.1 envelope
    (``{"objects": [...], "more": ...}``) or of a JSON list of objects."""
    return stix_from_doc(load_json(text, source), source)


def stix_from_doc(doc: Any, source: str) -> InputBatch:
    """:func:`parse_stix` on an already parsed JSON document."""
    if isinstance(doc, list):
        objects: Any = doc
        where = ""
    elif isinstance(doc, dict) and (doc.get("type") == "bundle" or _is_envelope(doc)):
        objects = doc.get("objects", [])
        where = "objects"
    else:
        raise MalformedFile(
            f"{source}: not a STIX bundle (top-level 'type' must be 'bundle'), TAXII envelope or object list"
        )
    if not isinstance(objects, list):
        raise MalformedFile(f"{source}#objects: expected a list")
    batch = InputBatch(source, "stix")
    for i, obj in enumerate(objects):
        _object(obj, f"{where}[{i}]", batch)
    return batch
