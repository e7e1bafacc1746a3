"""MISP JSON and MISP's own STIX 2.1 export of the same content give the same (kind, canonical value) pairs.

Each pair below is one MISP attribute (or object) and the STIX 2.1 indicator pattern MISP's exporter
(misp-stix) writes for it, as published in the MISP/misp-stix repository:

- attributes: ``documentation/mapping/misp_attributes_to_stix21.json`` (commit 053b93df9291), the examples
  behind ``documentation/misp_attributes_to_stix21.md``;
- objects: ``documentation/mapping/misp_objects_to_stix21.json`` (commit 036b2634b413), behind
  ``documentation/misp_objects_to_stix21.md``.

The MISP values and the patterns are those of the published examples (uuids, timestamps, categories and
``to_ids`` left out; long attachment data shortened as the examples shorten it). Only the attribute types
and objects blindmatch maps are here: hashes, filenames, mutexes, ... are not kinds of ours. Check the pairs
again when misp-stix changes its mapping.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from blindmatch.canonical import canonicalize
from blindmatch.inputs import InputBatch, parse_misp, parse_stix

Attr = dict[str, object]
IMAGE = "iVBORw0KGgoAAAANSUhEUgA[...]hIu9Wl1AAAAAElFTkSuQmCC"
UA = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"
HTTP = "network-traffic:extensions.'http-request-ext'"


def _attr(t: str, value: str) -> list[Attr]:
    return [{"type": t, "value": value}]


def _obj(name: str, *attrs: tuple[str, str, str]) -> dict[str, object]:
    return {"name": name, "Attribute": [{"type": t, "object_relation": r, "value": v} for t, r, v in attrs]}


ATTRIBUTES: list[tuple[str, list[Attr], str]] = [
    ("AS", _attr("AS", "174"), "[autonomous-system:number = '174']"),
    ("domain", _attr("domain", "circl.lu"), "[domain-name:value = 'circl.lu']"),
    ("domain|ip", _attr("domain|ip", "circl.lu|149.13.33.14"),
     "[domain-name:value = 'circl.lu' AND domain-name:resolves_to_refs[*].value = '149.13.33.14']"),
    ("email", _attr("email", "address@email.test"), "[email-addr:value = 'address@email.test']"),
    ("email-dst", _attr("email-dst", "dst@email.test"),
     "[email-message:to_refs[*].value = 'dst@email.test']"),
    ("email-reply-to", _attr("email-reply-to", "reply-to@email.test"),
     "[email-message:additional_header_fields.reply_to = 'reply-to@email.test']"),
    ("email-src", _attr("email-src", "src@email.test"), "[email-message:from_ref.value = 'src@email.test']"),
    ("github-username", _attr("github-username", "chrisr3d"),
     "[user-account:account_type = 'github' AND user-account:account_login = 'chrisr3d']"),
    ("hostname", _attr("hostname", "circl.lu"), "[domain-name:value = 'circl.lu']"),
    ("hostname|port", _attr("hostname|port", "circl.lu|8443"),
     "[domain-name:value = 'circl.lu' AND network-traffic:dst_port = '8443']"),
    ("ip-dst", _attr("ip-dst", "5.6.7.8"),
     "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '5.6.7.8']"),
    ("ip-dst|port", _attr("ip-dst|port", "5.6.7.8|5678"),
     "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '5.6.7.8' AND "
     "network-traffic:dst_port = '5678']"),
    ("ip-src", _attr("ip-src", "1.2.3.4"),
     "[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '1.2.3.4']"),
    ("ip-src|port", _attr("ip-src|port", "1.2.3.4|1234"),
     "[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '1.2.3.4' AND "
     "network-traffic:src_port = '1234']"),
    ("url", _attr("url", "https://vm.misp-project.org/latest/"),
     "[url:value = 'https://vm.misp-project.org/latest/']"),
    ("user-agent", _attr("user-agent", "Mozilla Firefox"), f"[{UA} = 'Mozilla Firefox']"),
]  # fmt: skip

OBJECTS: list[tuple[str, dict[str, object], str]] = [
    ("asn", _obj("asn", ("AS", "asn", "AS66642"), ("text", "description", "AS name"),
                 ("ip-src", "subnet-announced", "1.2.3.4"), ("ip-src", "subnet-announced", "8.8.8.8")),
     "[autonomous-system:number = '66642' AND autonomous-system:name = 'AS name' AND "
     "autonomous-system:x_misp_subnet_announced = '1.2.3.4' AND "
     "autonomous-system:x_misp_subnet_announced = '8.8.8.8']"),
    ("domain-ip", _obj("domain-ip", ("domain", "domain", "circl.lu"), ("hostname", "hostname", "circl.lu"),
                       ("ip-dst", "ip", "149.13.33.14"), ("port", "port", "8443")),
     "[domain-name:value = 'circl.lu' AND domain-name:x_misp_hostname = 'circl.lu' AND "
     "domain-name:resolves_to_refs[*].value = '149.13.33.14' AND domain-name:x_misp_port = '8443']"),
    ("email", _obj("email", ("email-src", "from", "donald.duck@disney.com"),
                   ("email-src-display-name", "from-display-name", "Donald Duck"),
                   ("email-dst", "to", "jdoe@random.org"),
                   ("email-dst-display-name", "to-display-name", "John Doe"),
                   ("email-dst", "cc", "diana.prince@dc.us"),
                   ("email-dst-display-name", "cc-display-name", "Diana Prince"),
                   ("email-dst", "cc", "marie.curie@nobel.fr"),
                   ("email-dst-display-name", "cc-display-name", "Marie Curie"),
                   ("email-dst", "bcc", "jfk@gov.us"),
                   ("email-dst-display-name", "bcc-display-name", "John Fitzgerald Kennedy"),
                   ("email-reply-to", "reply-to", "reply-to@email.test"),
                   ("email-subject", "subject", "Email test subject"),
                   ("email-attachment", "attachment", "attachment1.file"),
                   ("email-attachment", "attachment", "attachment2.file"),
                   ("email-x-mailer", "x-mailer", "x-mailer-test"), ("text", "user-agent", "Test user agent"),
                   ("email-mime-boundary", "mime-boundary", "Test mime boundary"),
                   ("email-message-id", "message-id", "25")),
     "[email-message:to_refs[0].value = 'jdoe@random.org' AND "
     "email-message:to_refs[0].display_name = 'John Doe' AND "
     "email-message:cc_refs[0].value = 'diana.prince@dc.us' AND "
     "email-message:cc_refs[0].display_name = 'Diana Prince' AND "
     "email-message:cc_refs[1].value = 'marie.curie@nobel.fr' AND "
     "email-message:cc_refs[1].display_name = 'Marie Curie' AND "
     "email-message:bcc_refs[0].value = 'jfk@gov.us' AND "
     "email-message:bcc_refs[0].display_name = 'John Fitzgerald Kennedy' AND "
     "email-message:from_ref.value = 'donald.duck@disney.com' AND "
     "email-message:from_ref.display_name = 'Donald Duck' AND email-message:message_id = '25' AND "
     "email-message:additional_header_fields.reply_to = 'reply-to@email.test' AND "
     "email-message:subject = 'Email test subject' AND "
     "email-message:additional_header_fields.x_mailer = 'x-mailer-test' AND "
     "email-message:body_multipart[0].body_raw_ref.name = 'attachment1.file' AND "
     "email-message:body_multipart[0].content_disposition = 'attachment' AND "
     "email-message:body_multipart[1].body_raw_ref.name = 'attachment2.file' AND "
     "email-message:body_multipart[1].content_disposition = 'attachment' AND "
     "email-message:x_misp_user_agent = 'Test user agent' AND "
     "email-message:x_misp_mime_boundary = 'Test mime boundary']"),
    ("github-user", _obj("github-user", ("text", "id", "1"), ("github-username", "username", "octocat"),
                         ("text", "user-fullname", "Octo Cat"),
                         ("github-organisation", "organisation", "GitHub"),
                         ("attachment", "profile-image", "octocat.png")),
     "[user-account:account_type = 'github' AND user-account:user_id = '1' AND "
     "user-account:display_name = 'Octo Cat' AND user-account:account_login = 'octocat' AND "
     f"user-account:x_misp_organisation = 'GitHub' AND user-account:x_misp_profile_image.data = '{IMAGE}' "
     "AND user-account:x_misp_profile_image.value = 'octocat.png']"),
    ("gitlab-user", _obj("gitlab-user", ("text", "id", "1234567890"), ("text", "name", "John Doe"),
                         ("text", "username", "j0hnd0e")),
     "[user-account:account_type = 'gitlab' AND user-account:user_id = '1234567890' AND "
     "user-account:display_name = 'John Doe' AND user-account:account_login = 'j0hnd0e']"),
    ("http-request", _obj("http-request", ("ip-src", "ip-src", "8.8.8.8"),
                          ("ip-dst", "ip-dst", "149.13.33.14"),
                          ("hostname", "host", "circl.lu"), ("http-method", "method", "POST"),
                          ("user-agent", "user-agent", "Mozilla Firefox"),
                          ("uri", "uri", "/projects/internships/"),
                          ("url", "url", "http://circl.lu/projects/internships/"),
                          ("text", "content-type", "JSON")),
     "[(network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '8.8.8.8') AND "
     "(network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '149.13.33.14') AND "
     "(network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'circl.lu') AND "
     f"{HTTP}.request_method = 'POST' AND {HTTP}.request_value = '/projects/internships/' AND "
     f"{HTTP}.request_value = 'http://circl.lu/projects/internships/' AND "
     f"{HTTP}.request_header.'Content-Type' = 'JSON' AND {UA} = 'Mozilla Firefox']"),
    ("ip-port", _obj("ip-port", ("ip-dst", "ip", "149.13.33.14"), ("port", "dst-port", "443"),
                     ("domain", "domain", "circl.lu"), ("datetime", "first-seen", "2020-10-25T16:22:00Z")),
     "[(network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '149.13.33.14') AND "
     "(network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'circl.lu') AND "
     "network-traffic:dst_port = '443' AND network-traffic:start = '2020-10-25T16:22:00Z']"),
    ("telegram-account", _obj("telegram-account", ("text", "id", "1234567890"),
                              ("text", "username", "T3l3gr4mUs3r"), ("text", "phone", "0112233445"),
                              ("text", "phone", "0556677889")),
     "[user-account:account_type = 'telegram' AND user-account:user_id = '1234567890' AND "
     "user-account:account_login = 'T3l3gr4mUs3r' AND user-account:x_misp_phone = '0112233445' AND "
     "user-account:x_misp_phone = '0556677889']"),
    ("twitter-account", _obj("twitter-account", ("text", "id", "1357111317"), ("text", "name", "octocat"),
                             ("text", "displayed-name", "Octo Cat"), ("text", "followers", "666"),
                             ("attachment", "profile-image", "octocat.png")),
     "[user-account:account_type = 'twitter' AND user-account:display_name = 'Octo Cat' AND "
     "user-account:user_id = '1357111317' AND user-account:account_login = 'octocat' AND "
     f"user-account:x_misp_followers = '666' AND user-account:x_misp_profile_image.data = '{IMAGE}' AND "
     "user-account:x_misp_profile_image.value = 'octocat.png']"),
    ("url", _obj("url", ("url", "url", "https://www.circl.lu/team"), ("domain", "domain", "circl.lu"),
                 ("hostname", "host", "www.circl.lu"), ("ip-dst", "ip", "149.13.33.14"),
                 ("port", "port", "443")),
     "[url:value = 'https://www.circl.lu/team' AND url:x_misp_domain = 'circl.lu' AND "
     "url:x_misp_host = 'www.circl.lu' AND url:x_misp_ip = '149.13.33.14' AND url:x_misp_port = '443']"),
    ("user-account", _obj("user-account", ("text", "username", "iglocska"), ("text", "user-id", "iglocska"),
                          ("text", "display-name", "Code Monkey"), ("text", "password", "P4ssw0rd1234!"),
                          ("text", "group", "viktor-fan"), ("text", "group", "donald-fan"),
                          ("text", "group-id", "2004"), ("text", "home_dir", "/home/iglocska"),
                          ("attachment", "user-avatar", "octocat.png"), ("text", "account-type", "unix"),
                          ("datetime", "password_last_changed", "2020-10-25T16:22:00")),
     "[user-account:account_type = 'unix' AND user-account:display_name = 'Code Monkey' AND "
     "user-account:credential = 'P4ssw0rd1234!' AND user-account:user_id = 'iglocska' AND "
     "user-account:account_login = 'iglocska' AND "
     "user-account:credential_last_changed = '2020-10-25T16:22:00' AND "
     "user-account:extensions.'unix-account-ext'.groups = 'viktor-fan' AND "
     "user-account:extensions.'unix-account-ext'.groups = 'donald-fan' AND "
     "user-account:extensions.'unix-account-ext'.gid = '2004' AND "
     "user-account:extensions.'unix-account-ext'.home_dir = '/home/iglocska' AND "
     f"user-account:x_misp_user_avatar.data = '{IMAGE}' AND "
     "user-account:x_misp_user_avatar.value = 'octocat.png']"),
]  # fmt: skip

PAIRS: list[tuple[str, list[Attr], dict[str, object] | None, str]] = [
    *((f"attribute {n}", attrs, None, p) for n, attrs, p in ATTRIBUTES),
    *((f"object {n}", [], obj, p) for n, obj, p in OBJECTS),
]


def _canonical(b: InputBatch) -> Counter[tuple[str, str]]:
    return Counter((r.kind, canonicalize(r.kind, r.value)) for r in b.rows)


@pytest.mark.parametrize(("name", "attrs", "obj", "pattern"), PAIRS, ids=[p[0] for p in PAIRS])
def test_misp_json_and_its_stix_export_agree(
    name: str, attrs: list[Attr], obj: dict[str, object] | None, pattern: str
) -> None:
    event = {"Event": {"info": name, "Attribute": attrs, "Object": [obj] if obj else []}}
    indicator = {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "pattern": pattern,
                 "pattern_type": "stix", "valid_from": "2020-10-25T16:22:00Z"}  # fmt: skip
    misp = parse_misp(json.dumps(event), "e.json")
    stix = parse_stix(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [indicator]}), "b.json")
    assert misp.rows, name
    assert _canonical(misp) == _canonical(stix)


def test_every_published_pair_is_a_valid_pattern_of_the_supported_subset() -> None:
    for name, _, _, pattern in PAIRS:
        b = parse_stix(json.dumps([{"type": "indicator", "pattern": pattern}]), "b.json")
        assert "stix:unsupported pattern" not in b.unmapped, name
