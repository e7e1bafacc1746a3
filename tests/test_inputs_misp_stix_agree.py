"""MISP JSON and MISP's own STIX 2.1 export of the same content give the same (kind, canonical value) pairs.

Each pair below is one MISP attribute (or object) and the STIX 2.1 indicator pattern MISP's exporter
(misp-stix) writes for it, following its MISP -> STIX 2.1 attribute and object mapping. The pairs were
written from that mapping as known to the author, not copied from the published pages in this session:
check them against misp-stix's ``documentation/`` when it changes.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from blindmatch.canonical import canonicalize
from blindmatch.inputs import InputBatch, parse_misp, parse_stix

Attr = dict[str, object]

PAIRS: list[tuple[str, list[Attr], dict[str, object] | None, str]] = [
    ("email-src", [{"type": "email-src", "value": "Sender@Mail.example"}], None,
     "[email-message:from_ref.value = 'Sender@Mail.example']"),
    ("email-dst", [{"type": "email-dst", "value": "victim@corp.example"}], None,
     "[email-message:to_refs[*].value = 'victim@corp.example']"),
    ("email-reply-to", [{"type": "email-reply-to", "value": "reply@free.example"}], None,
     "[email-message:additional_header_fields.reply_to = 'reply@free.example']"),
    ("ip-src", [{"type": "ip-src", "value": "198.51.100.7"}], None,
     "[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '198.51.100.7']"),
    ("ip-dst|port", [{"type": "ip-dst|port", "value": "2001:db8::5|443"}], None,
     "[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value = '2001:db8::5' AND "
     "network-traffic:dst_port = '443']"),
    ("domain", [{"type": "domain", "value": "Evil.Example"}], None, "[domain-name:value = 'Evil.Example']"),
    ("hostname", [{"type": "hostname", "value": "c2.evil.example"}], None,
     "[domain-name:value = 'c2.evil.example']"),
    ("domain|ip", [{"type": "domain|ip", "value": "evil.example|192.0.2.1"}], None,
     "[domain-name:value = 'evil.example' AND domain-name:resolves_to_refs[*].value = '192.0.2.1']"),
    ("url", [{"type": "url", "value": "https://evil.example/gate.php"}], None,
     "[url:value = 'https://evil.example/gate.php']"),
    ("url without scheme", [{"type": "url", "value": "evil.example/gate.php"}], None,
     "[url:value = 'evil.example/gate.php']"),
    ("AS", [{"type": "AS", "value": "AS174"}], None, "[autonomous-system:number = '174']"),
    ("user-agent", [{"type": "user-agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}], None,
     "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = "
     "'Mozilla/5.0 (X11; Linux x86_64)']"),
    ("github-username", [{"type": "github-username", "value": "octo-cat"}], None,
     "[user-account:account_type = 'github' AND user-account:account_login = 'octo-cat']"),
    ("twitter-account object", [], {"name": "twitter-account", "Attribute": [
        {"type": "text", "object_relation": "name", "value": "lure_news"},
        {"type": "text", "object_relation": "id", "value": "1449912345678901248"},
        {"type": "text", "object_relation": "displayed-name", "value": "Breaking News 24"}]},
     "[user-account:account_type = 'twitter' AND user-account:display_name = 'Breaking News 24' AND "
     "user-account:user_id = '1449912345678901248' AND user-account:account_login = 'lure_news']"),
    ("email object", [], {"name": "email", "Attribute": [
        {"type": "email-src", "object_relation": "from", "value": "news@lure.example"},
        {"type": "email-dst", "object_relation": "to", "value": "a@corp.example"},
        {"type": "email-dst", "object_relation": "cc", "value": "b@corp.example"},
        {"type": "email-reply-to", "object_relation": "reply-to", "value": "r@free.example"},
        {"type": "email-subject", "object_relation": "subject", "value": "Your parcel"}]},
     "[email-message:from_ref.value = 'news@lure.example' AND "
     "email-message:to_refs[0].value = 'a@corp.example' AND "
     "email-message:cc_refs[0].value = 'b@corp.example' AND "
     "email-message:additional_header_fields.reply_to = 'r@free.example' AND "
     "email-message:subject = 'Your parcel']"),
    ("asn object", [], {"name": "asn", "Attribute": [
        {"type": "AS", "object_relation": "asn", "value": "AS64500"},
        {"type": "ip-src", "object_relation": "subnet-announced", "value": "198.51.100.0/24"}]},
     "[autonomous-system:number = '64500' AND "
     "autonomous-system:x_misp_subnet_announced = '198.51.100.0/24']"),
]  # fmt: skip


def _canonical(b: InputBatch) -> Counter[tuple[str, str]]:
    return Counter((r.kind, canonicalize(r.kind, r.value)) for r in b.rows)


@pytest.mark.parametrize(("name", "attrs", "obj", "pattern"), PAIRS, ids=[p[0] for p in PAIRS])
def test_misp_json_and_its_stix_export_agree(
    name: str, attrs: list[Attr], obj: dict[str, object] | None, pattern: str
) -> None:
    event = {"Event": {"info": name, "Attribute": attrs, "Object": [obj] if obj else []}}
    indicator = {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "pattern": pattern,
                 "pattern_type": "stix", "valid_from": "2026-10-01T00:00:00Z"}  # fmt: skip
    misp = parse_misp(json.dumps(event), "e.json")
    stix = parse_stix(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [indicator]}), "b.json")
    assert misp.rows, name
    assert _canonical(misp) == _canonical(stix)
