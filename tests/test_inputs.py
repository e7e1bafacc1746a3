"""Input readers: each format's mapping, unmapped counting, and malformed files."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import InvalidParameter, MalformedFile
from blindmatch.inputs import (
    InputRow,
    detect_format,
    parse_csv,
    parse_jsonl,
    parse_lines,
    parse_misp,
    parse_stix,
    parse_text,
    read_indicators,
)

KINDS = ("email", "ip", "cidr", "domain", "url", "phone", "account", "asn", "prompt", "text", "api-key")


def test_plain_lines_keep_values_and_count_blanks() -> None:
    b = parse_lines("a@b.org\r\n\n  Spaced Value \nlast", "f.txt", kind="email", kinds=KINDS)
    assert b.rows == [
        InputRow("email", "a@b.org", "f.txt:1"),
        InputRow("email", "  Spaced Value ", "f.txt:3"),
        InputRow("email", "last", "f.txt:4"),
    ]
    assert b.ignored == {"blank line": 1}
    with pytest.raises(InvalidParameter):
        parse_lines("x", "f.txt", kind="nope", kinds=KINDS)


def test_csv_kind_value_and_column_modes() -> None:
    text = 'Kind,Value,note\nemail,A@B.org,x\nsha1,abc,\n,,\nip,"1.2.3.4",y\n'
    b = parse_csv(text, "f.csv", kinds=KINDS)
    assert [(r.kind, r.value, r.origin) for r in b.rows] == [
        ("email", "A@B.org", "f.csv:2"),
        ("ip", "1.2.3.4", "f.csv:5"),
    ]
    assert b.unmapped == {"kind:sha1": 1}
    assert b.ignored == {"blank row": 1}
    c = parse_csv("id,addr\n1,x@y.org\n2,z@y.org\n", "g.csv", kind="email", column="ADDR", kinds=KINDS)
    assert [r.value for r in c.rows] == ["x@y.org", "z@y.org"]
    assert b.counts_per_kind() == {"email": 1, "ip": 1}


def test_csv_multiline_field_origin_is_its_first_line() -> None:
    b = parse_csv('kind,value\nprompt,"line one\nline two"\ntext,z\n', "f.csv", kinds=KINDS)
    assert [r.origin for r in b.rows] == ["f.csv:2", "f.csv:4"]


@pytest.mark.parametrize(
    ("text", "kw", "match"),
    [
        ("", {}, "empty CSV"),
        ("value\nx\n", {}, "no 'kind' column"),
        ("kind,value\nemail\n", {}, "line 2: row has 1 fields"),
        ('kind,value\nemail,"unterminated\n', {}, "line"),
        ('kind,value\nemail,"a"b\n', {}, "line 2"),
        ("a,b\n1,2\n", {"kind": "email", "column": "c"}, "no column named 'c'"),
    ],
)
def test_csv_malformed(text: str, kw: dict[str, str], match: str) -> None:
    with pytest.raises(MalformedFile, match=match) as ei:
        parse_csv(text, "bad.csv", kinds=KINDS, **kw)
    assert "bad.csv" in str(ei.value)


def test_jsonl() -> None:
    text = '{"kind": "email", "value": "a@b.org", "extra": 1}\n\n{"kind": "md5", "value": "x"}\n' + (
        '{"kind": "asn", "value": 15169}\n'
    )
    b = parse_jsonl(text, "f.jsonl", kinds=KINDS)
    assert b.rows == [InputRow("email", "a@b.org", "f.jsonl:1"), InputRow("asn", "15169", "f.jsonl:4")]
    assert b.unmapped == {"kind:md5": 1}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"kind": "email", "value": "a"}\n{"kind": "email", "value": \n', "line 2"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"kind": 1, "value": "a"}\n', "'kind' must be a string"),
        ('{"kind": "email", "value": null}\n', "'value' must be a string"),
        ('{"kind": "email", "value": NaN}\n', "line 1"),
        ("[" * 100_000 + "\n", "line 1"),
        ('{"kind": "asn", "value": ' + "9" * 5000 + "}\n", "line 1"),
    ],
)
def test_jsonl_malformed(text: str, match: str) -> None:
    with pytest.raises(MalformedFile, match=match):
        parse_jsonl(text, "bad.jsonl", kinds=KINDS)


MISP_EVENT = {
    "Event": {
        "info": "test",
        "Attribute": [
            {"type": "email-src", "value": "Alice@Example.org", "to_ids": True},
            {"type": "ip-dst|port", "value": "203.0.113.9|443"},
            {"type": "ip-src", "value": "198.51.100.7/32"},
            {"type": "ip-src", "value": "198.51.100.0/24"},
            {"type": "domain|ip", "value": "evil.example|192.0.2.1"},
            {"type": "hostname", "value": "c2.evil.example"},
            {"type": "url", "value": "http://evil.example:80/a"},
            {"type": "phone-number", "value": "+1 202 555 0143"},
            {"type": "github-username", "value": "octo-cat"},
            {"type": "twitter-id", "value": "someone"},
            {"type": "AS", "value": "AS15169"},
            {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
            {"type": "ip-dst|port", "value": "no-pipe-here"},
            {"type": "email", "value": "gone@example.org", "deleted": True},
        ],
        "Object": [
            {"name": "email", "Attribute": [{"type": "email-dst", "value": "bob@example.org"}]},
            {"name": "file", "Attribute": [{"type": "sha256", "value": "ab" * 32}]},
        ],
    }
}


def test_misp_mapping() -> None:
    b = parse_misp(json.dumps(MISP_EVENT), "ev.json")
    got = [(r.kind, r.value) for r in b.rows]
    assert got == [
        ("email", "Alice@Example.org"),
        ("ip", "203.0.113.9"),
        ("ip", "198.51.100.7"),
        ("cidr", "198.51.100.0/24"),
        ("domain", "evil.example"),
        ("ip", "192.0.2.1"),
        ("domain", "c2.evil.example"),
        ("url", "http://evil.example:80/a"),
        ("phone", "+1 202 555 0143"),
        ("account", "github:octo-cat"),
        ("account", "twitter:someone"),
        ("asn", "AS15169"),
        ("email", "bob@example.org"),
    ]
    assert b.rows[0].origin == "ev.json#Event.Attribute[0]"
    assert b.rows[-1].origin == "ev.json#Event.Object[0].Attribute[0]"
    assert b.unmapped == {"misp:md5": 1, "misp:ip-dst|port": 1, "misp:sha256": 1}
    assert b.ignored == {"misp:deleted": 1}


def test_misp_rest_search_response_and_list() -> None:
    doc = {"response": [MISP_EVENT, MISP_EVENT]}
    assert len(parse_misp(json.dumps(doc), "r.json").rows) == 26
    assert len(parse_misp(json.dumps([MISP_EVENT]), "r.json").rows) == 13


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"foo": 1}, "not a MISP event"),
        ({"Event": []}, "Event: expected an object"),
        ({"Event": {"Attribute": {}}}, "Attribute: expected a list"),
        ({"Event": {"Attribute": [1]}}, r"Attribute\[0\]: expected an object"),
        ({"Event": {"Attribute": [{"type": "email"}]}}, "'value' must be a string"),
        ({"Event": {"Attribute": [{"value": "x"}]}}, "'type' must be a string"),
        ({"Event": {"Object": [{"Attribute": 3}]}}, r"Object\[0\].Attribute: expected a list"),
        ({"response": [1]}, r"\[0\]: expected an object"),
    ],
)
def test_misp_malformed(doc: object, match: str) -> None:
    with pytest.raises(MalformedFile, match=match):
        parse_misp(json.dumps(doc), "ev.json")


def _bundle(*objects: dict[str, object]) -> str:
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objects)})


def _ind(pattern: str, ptype: str = "stix") -> dict[str, object]:
    return {"type": "indicator", "spec_version": "2.1", "pattern": pattern, "pattern_type": ptype}


def test_stix_indicators_and_observables() -> None:
    text = _bundle(
        _ind("[email-addr:value = 'a@example.org']"),
        _ind("[user-account:account_type = 'github' AND user-account:account_login = 'octo-cat']"),
        _ind(
            "[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '203.0.113.5']"
            " OR [domain-name:value = 'x.example' OR url:value = 'https://x.example/p']"
        ),
        _ind("[ipv4-addr:value = '10.0.0.0/8'] AND [ipv6-addr:value = '2001:db8::1']"),
        _ind("[file:hashes.'SHA-256' = 'aa' AND email-addr:value = 'b@example.org']"),
        _ind("[email-addr:value LIKE '%@example.org']"),
        _ind("[email-addr:value = 'c@example.org'] WITHIN 60 SECONDS"),
        _ind("[user-account:account_login = 'no-type']"),
        _ind("alert tcp any any", "snort"),
        {"type": "email-addr", "id": "email-addr--1", "value": "d@example.org"},
        {"type": "ipv4-addr", "value": "192.0.2.44"},
        {"type": "user-account", "account_type": "Twitter", "account_login": "bird", "user_id": "12345"},
        {"type": "user-account", "account_login": "orphan"},
        {"type": "file", "name": "x.exe"},
        {"type": "relationship", "relationship_type": "indicates"},
        {"type": "identity", "name": "lab"},
        {"type": "observed-data", "objects": {"0": {"type": "domain-name", "value": "old.example"}}},
    )
    b = parse_stix(text, "b.json")
    got = [(r.kind, r.value) for r in b.rows]
    assert got == [
        ("email", "a@example.org"),
        ("account", "github:octo-cat"),
        ("ip", "203.0.113.5"),
        ("domain", "x.example"),
        ("url", "https://x.example/p"),
        ("cidr", "10.0.0.0/8"),
        ("ip", "2001:db8::1"),
        ("email", "b@example.org"),
        ("email", "c@example.org"),
        ("email", "d@example.org"),
        ("ip", "192.0.2.44"),
        ("account", "twitter:bird"),
        ("account", "twitter-id:12345"),
        ("domain", "old.example"),
    ]
    assert b.rows[0].origin == "b.json#objects[0]"
    assert b.unmapped == {
        "stix-path:file:hashes.'SHA-256'": 1,
        "stix:unsupported pattern": 1,
        "stix:user-account without one account_type": 1,
        "stix:pattern_type snort": 1,
        "stix:user-account without account_type": 1,
        "stix:file": 1,
    }
    assert b.ignored == {"stix:relationship": 1, "stix:identity": 1}


def test_stix_dnf_pairs_accounts_and_dedupes() -> None:
    p = (
        "[user-account:account_type = 'github' AND "
        "(user-account:account_login = 'a' OR user-account:user_id = '42')] "
        "AND [email-addr:value = 'e@x.org']"
    )
    b = parse_stix(_bundle(_ind(p)), "b.json")
    assert [(r.kind, r.value) for r in b.rows] == [
        ("account", "github:a"),
        ("email", "e@x.org"),
        ("account", "github-id:42"),
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        "[email-addr:value = 'a@b.org'",
        "email-addr:value = 'a@b.org'",
        "[email-addr:value = 'unterminated]",
        "[email-addr = 'x']",
        "[email-addr:value 'x']",
        "[email-addr:value = 'x'] AND",
        "[email-addr:value = 'x'] WITHIN SECONDS",
        "[a:b[x] = 'y']",
        "[email-addr:value = 'x'] ]",
        "[" * 200 + "email-addr:value = 'x'" + "]" * 200,
        "[email-addr:value = 'x' ; DROP]",
    ],
)
def test_stix_invalid_pattern_is_malformed(pattern: str) -> None:
    with pytest.raises(MalformedFile, match=r"b\.json#objects\[0\]: invalid STIX pattern"):
        parse_stix(_bundle(_ind(pattern)), "b.json")


@pytest.mark.parametrize(
    "pattern",
    [
        "[email-addr:value != 'x']",
        "[email-addr:value NOT = 'x']",
        "[email-addr:value NOT IN ('x', 'y')]",
        "[email-addr:value MATCHES '^x']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        "[EXISTS email-addr:value]",
        "[file:size > 10]",
        "[email-addr:value = 'x'] FOLLOWEDBY [email-addr:value = 'y']",
        "[email-addr:value = 'x'] REPEATS 2 TIMES FOLLOWEDBY [email-addr:value = 'y']",
        "[email-addr:value != 'x'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
        "[file:hashes.MD5 = h'0011']",
        "[x:y = true]",
    ],
)
def test_stix_valid_but_unsupported_is_counted(pattern: str) -> None:
    b = parse_stix(_bundle(_ind(pattern)), "b.json")
    assert b.rows == []
    assert b.unmapped == {"stix:unsupported pattern": 1}


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"type": "report"}, "not a STIX bundle"),
        (3, "not a STIX bundle"),  # a list is a list of objects (an empty one reads as nothing)
        ({"type": "bundle", "objects": {}}, "objects: expected a list"),
        ({"type": "bundle", "objects": [3]}, r"objects\[0\]: expected an object"),
        ({"type": "bundle", "objects": [{"id": "x"}]}, "'type' must be a string"),
        ({"type": "bundle", "objects": [{"type": "indicator", "pattern": 1}]}, "needs string 'pattern'"),
        ({"type": "bundle", "objects": [{"type": "email-addr"}]}, "without 'value'"),
        ({"type": "bundle", "objects": [{"type": "url", "value": 5}]}, "'value' must be a string"),
    ],
)
def test_stix_malformed(doc: object, match: str) -> None:
    with pytest.raises(MalformedFile, match=match):
        parse_stix(json.dumps(doc), "b.json")


def test_read_indicators_detects_and_reports_position(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("kind,value\nemail,a@b.org\n")
    (tmp_path / "b.json").write_text(_bundle(_ind("[email-addr:value = 'a@b.org']")))
    (tmp_path / "c.json").write_text(json.dumps(MISP_EVENT))
    (tmp_path / "d.jsonl").write_text('{"kind": "email", "value": "a@b.org"}\n')
    (tmp_path / "e.dat").write_text("a@b.org\n")
    assert read_indicators(tmp_path / "a.csv", kinds=KINDS).format == "csv"
    assert read_indicators(tmp_path / "b.json").format == "stix"
    assert read_indicators(tmp_path / "c.json").format == "misp"
    assert read_indicators(tmp_path / "d.jsonl", kinds=KINDS).format == "jsonl"
    assert read_indicators(tmp_path / "e.dat", kind="email", kinds=KINDS).format == "lines"
    with pytest.raises(InvalidParameter, match="cannot tell the format"):
        read_indicators(tmp_path / "e.dat")
    with pytest.raises(InvalidParameter, match="cannot read"):
        read_indicators(tmp_path / "missing.csv")
    (tmp_path / "bad.txt").write_bytes(b"ok\nalso ok\nbad \xff byte\n")
    with pytest.raises(MalformedFile, match=r"bad\.txt: line 3, column 5: not valid UTF-8"):
        read_indicators(tmp_path / "bad.txt", kind="email", kinds=KINDS)
    (tmp_path / "big.txt").write_text("x" * 2000)
    with pytest.raises(MalformedFile, match="larger than the limit"):
        read_indicators(tmp_path / "big.txt", kind="email", kinds=KINDS, max_bytes=1000)
    (tmp_path / "broken.json").write_text('{"type": "bundle",\n "objects": [}')
    with pytest.raises(MalformedFile, match=r"broken\.json: line 2, column 14: invalid JSON"):
        read_indicators(tmp_path / "broken.json", fmt="stix")
    with pytest.raises(InvalidParameter):
        parse_text("x", "s", "lines")
    assert detect_format("x.NDJSON", "") == "jsonl"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["lines", "csv", "jsonl", "misp", "stix"]))
def test_any_bytes_give_a_batch_or_malformed_file(data: bytes, fmt: str) -> None:
    from blindmatch.inputs._common import decode_text

    try:
        text = decode_text(data, "fuzz")
        parse_text(text, "fuzz", fmt, kind="text" if fmt == "lines" else None, kinds=KINDS)
    except MalformedFile as exc:
        assert str(exc).startswith("fuzz")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="[]()=':.,*ANDORabc-_ \\ 1tWITHN", max_size=80))
def test_stix_pattern_fuzz_only_known_outcomes(pattern: str) -> None:
    with contextlib.suppress(MalformedFile):
        parse_stix(_bundle(_ind(pattern)), "b.json")


def test_json_format_decided_from_the_parsed_document(tmp_path: Path) -> None:
    # "type": "bundle" written last, after a long list of objects: the top of the file does not tell.
    objects = [{"type": "email-addr", "value": f"u{i}@example.org"} for i in range(300)]
    (tmp_path / "late.json").write_text(json.dumps({"id": "bundle--1", "objects": objects, "type": "bundle"}))
    b = read_indicators(tmp_path / "late.json")
    assert b.format == "stix" and len(b.rows) == 300
    pad = "x" * 5000
    (tmp_path / "misp.json").write_text(json.dumps({"note": pad, "Event": MISP_EVENT["Event"]}))
    assert read_indicators(tmp_path / "misp.json").format == "misp"
    (tmp_path / "other.json").write_text(json.dumps({"note": pad}))
    with pytest.raises(InvalidParameter, match="cannot tell"):
        read_indicators(tmp_path / "other.json")


def test_stix_network_traffic_type_contradiction_is_unmapped() -> None:
    from blindmatch.inputs import parse_stix

    def bundle(pattern: str) -> str:
        ind = {"type": "indicator", "id": "indicator--1", "pattern": pattern, "pattern_type": "stix"}
        return json.dumps({"type": "bundle", "id": "bundle--1", "objects": [ind]})

    bad = parse_stix(
        bundle("[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_ref.type = 'ipv6-addr']"),
        "t.json",
    )
    assert [(r[0], r[1]) for r in bad.rows] == []
    assert sum(bad.unmapped.values()) == 1
    good = parse_stix(
        bundle("[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_ref.type = 'ipv4-addr']"),
        "t.json",
    )
    assert [(r[0], r[1]) for r in good.rows] == [("ip", "1.2.3.4")]


def test_stix_network_traffic_ref_to_a_non_ip_object_is_unmapped_as_such() -> None:
    from blindmatch.inputs import parse_stix

    ind = {"type": "indicator", "id": "indicator--2", "pattern_type": "stix",
           "pattern": "[network-traffic:dst_ref.value = '12:34:56:78:90:ab' AND "
                      "network-traffic:dst_ref.type = 'mac-addr']"}  # fmt: skip
    batch = parse_stix(json.dumps({"type": "bundle", "id": "bundle--2", "objects": [ind]}), "t.json")
    assert list(batch.rows) == []
    assert dict(batch.unmapped) == {"stix:network-traffic reference to a non-IP object": 1}
