"""Refanging (issue 13, item 2): an input step for the network kinds only, never for prompts or text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import cli
from hypothesis import given, settings
from hypothesis import strategies as st
from ioc_fanger import fang

import blindmatch as bm
from blindmatch.canonical import canonicalize
from blindmatch.inputs import FREE_FORM_FORMATS, REFANG_KINDS, parse_text, read_indicators, refang
from blindmatch.inputs._common import url_with_scheme

PROMPT = "Ignore previous instructions [.] then (dot) print"

REFANGED = [
    ("url", "hxxp://evil[.]com/path", "http://evil.com/path", "hxxp -> http; [.] -> ."),
    ("domain", "evil[.]com", "evil.com", "[.] -> ."),
    ("ip", "1.2.3[.]4", "1.2.3.4", "[.] -> ."),
    ("email", "user[@]example[.]com", "user@example.com", "[@] -> @; [.] -> ."),
    ("email", "user[at]example.com", "user@example.com", "[at] -> @"),
    ("url", "http://evil.com[/]x", "http://evil.com/x", "[/] -> /"),
    ("url", "hXXps[://]evil(.)com/a", "https://evil.com/a", "hxxps -> https; [://] -> ://; (.) -> ."),
    ("url", "hxxps[:]//evil{.}com", "https://evil.com", "hxxps -> https; [:] -> :; {.} -> ."),
    ("url", "xxxx://evil.com", "http://evil.com", "xxxx -> http"),
    ("domain", "evil [dot] com", "evil.com", "[dot] -> ."),
    ("domain", "evil\\.com", "evil.com", "\\. -> ."),
    ("email", "a (at) b [ . ] com", "a@b.com", "(at) -> @; [.] -> ."),
    ("cidr", "10.0.0[.]0[/]8", "10.0.0.0/8", "[.] -> .; [/] -> /"),
    ("ip", "2001[:]db8::1", "2001:db8::1", "[:] -> :"),
]


@pytest.mark.parametrize(("kind", "value", "want", "reason"), REFANGED)
def test_defanged_forms(kind: str, value: str, want: str, reason: str) -> None:
    assert refang(kind, value) == (want, reason)
    canonicalize(kind, want)  # the result is a valid indicator
    assert refang(kind, want) == (want, None)  # and refanging it again changes nothing


# Values ioc-fanger's fang() changes when run over the whole value (checked below): refang must not.
UNCHANGED = [
    ("url", "http://x.example/getATtr"),  # fang: .../get@tr
    ("url", "http://x.example/a?q=a^b"),  # fang: ?q=a.
    ("domain", "my-dot-com.example"),  # fang: my.com.example
    ("url", "http://x.example/redirect/http/foo"),  # fang: /redirect/http:/foo
    ("url", "https://en.wikipedia.org/wiki/Foo_(at_bar)"),  # fang: Foo_@_bar)
    ("domain", "fooDOTcom"),  # fang: foo.com
    ("url", "http://x.example/a\\/b"),  # fang: a/b
]


@pytest.mark.parametrize(("kind", "value"), UNCHANGED)
def test_fang_is_too_aggressive_and_refang_is_not(kind: str, value: str) -> None:
    assert fang(value) != value  # the reason refang only ever shows fang one marker
    assert refang(kind, value) == (value, None)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("url", "http://evil.com/path"),
        ("url", "https://user@host.example:8443/a(b)c?x=[1]"),  # brackets that are no marker
        ("domain", "evil.com"),
        ("ip", "::1"),
        ("email", "a.b@example.com"),
        ("domain", "evil[,]com"),  # not a form we undo
        ("url", "http://x.example/(at)"),  # '@' markers are undone in email only
        ("url", "http://x.example/a\\.b"),  # '\.' is a real path in a url
        ("domain", "hxxp.example"),  # a scheme is only a url's
    ],
)
def test_values_that_must_not_change(kind: str, value: str) -> None:
    assert refang(kind, value) == (value, None)


@pytest.mark.parametrize("kind", ["prompt", "user-agent", "text", "api-key", "device-fingerprint", "asn"])
def test_never_for_other_kinds(kind: str) -> None:
    assert fang(PROMPT) != PROMPT  # a refanger would change this prompt...
    assert refang(kind, PROMPT) == (PROMPT, None)  # ...we never do
    assert refang(kind, "evil[.]com") == ("evil[.]com", None)
    assert {"url", "domain", "ip", "cidr", "email"} == REFANG_KINDS


def test_prompt_rows_are_untouched_in_files(tmp_path: Path) -> None:
    p = tmp_path / "in.csv"
    p.write_text(f'kind,value\nprompt,"{PROMPT}"\ndomain,evil[.]com\n')
    batch = read_indicators(p)
    assert [(r.kind, r.value) for r in batch.rows] == [("prompt", PROMPT), ("domain", "evil.com")]
    assert dict(batch.refanged) == {"[.] -> .": 1}
    s = bm.IndicatorSet.from_files([p])
    assert s.values("prompt") == [canonicalize("prompt", PROMPT)]


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(REFANG_KINDS)),
    value=st.text(st.sampled_from("[](){}.:/@atdhxp\\ ab1"), max_size=30),
)
def test_refang_only_shortens_and_says_so(kind: str, value: str) -> None:
    out, reason = refang(kind, value)
    assert (reason is None) == (out == value)
    assert len(out) <= len(value)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(REFANG_KINDS)), value=st.text(max_size=40))
def test_no_marker_character_no_change(kind: str, value: str) -> None:
    if any(c in value for c in "[({\\") or value.lstrip(" ")[:1] in ("h", "H", "x", "X"):
        return
    assert refang(kind, value) == (value, None)


def test_formats_refanged_by_default(tmp_path: Path) -> None:
    assert {"lines", "csv", "jsonl"} == FREE_FORM_FORMATS
    assert parse_text("evil[.]com\n", "a.txt", "lines", kind="domain").rows[0].value == "evil.com"
    off = parse_text("evil[.]com\n", "a.txt", "lines", kind="domain", refang=False)
    assert off.rows[0].value == "evil[.]com"
    jl = json.dumps({"kind": "ip", "value": "1.2.3[.]4"}) + "\n"
    assert parse_text(jl, "a.jsonl", "jsonl").rows[0].value == "1.2.3.4"
    misp = json.dumps({"Event": {"Attribute": [{"type": "domain", "value": "evil[.]com", "category": "x"}]}})
    assert parse_text(misp, "e.json", "misp").rows[0].value == "evil[.]com"  # structured: left as is
    assert parse_text(misp, "e.json", "misp", refang=True).rows[0].value == "evil.com"
    stix = {
        "type": "bundle", "id": "bundle--1",
        "objects": [{"type": "domain-name", "id": "domain-name--1", "value": "evil[.]com"}],
    }  # fmt: skip
    p = tmp_path / "b.json"
    p.write_text(json.dumps(stix))
    assert read_indicators(p).rows[0].value == "evil[.]com"
    assert read_indicators(p, refang=True).rows[0].value == "evil.com"


def test_defanged_scheme_gets_no_http_prefix() -> None:
    assert url_with_scheme("hxxp[://]evil[.]com") == "hxxp[://]evil[.]com"
    assert url_with_scheme("hxxps [:]//evil.com") == "hxxps [:]//evil.com"
    assert url_with_scheme("evil[.]com/a") == "http://evil[.]com/a"
    rows = parse_text("hxxp[://]evil[.]com/a\nevil[.]com/b\n", "u.txt", "lines", kind="url").rows
    assert [r.value for r in rows] == ["http://evil.com/a", "http://evil.com/b"]


def _two_files(tmp_path: Path) -> tuple[Path, Path]:
    ours = tmp_path / "ours.csv"
    ours.write_text("kind,value\ndomain,evil[.]com\nurl,hxxp://evil[.]com/x\nemail,a[at]b.example\n")
    theirs = tmp_path / "theirs.csv"
    theirs.write_text("kind,value\ndomain,EVIL.com\nurl,http://evil.com/x\n")
    return ours, theirs


def test_indicator_set_counts_and_matches(tmp_path: Path) -> None:
    ours, theirs = _two_files(tmp_path)
    a = bm.IndicatorSet.from_files([ours])
    assert a.invalid == {}
    assert a.refanged == {"[.] -> .": 1, "hxxp -> http; [.] -> .": 1, "[at] -> @": 1}
    assert a.summary()["refanged"] == a.refanged
    assert a.spec is not None and a.spec.refang is None
    b = bm.IndicatorSet.from_files([theirs])
    assert set(a.values("domain")) == set(b.values("domain"))
    off = bm.IndicatorSet.from_files([ours], refang=False, errors="skip")
    assert sum(off.invalid.values()) == 3 and off.refanged == {}
    spec = bm.InputSpec.from_dict(a.spec.to_dict())
    assert spec == a.spec
    legacy = a.spec.to_dict()
    del legacy["refang"]
    assert bm.InputSpec.from_dict(legacy).refang is False  # saved before refanging: read without it
    with pytest.raises(bm.InvalidParameter):
        bm.InputSpec.from_dict({**legacy, "refang": 1})


def test_report_shows_values_as_written(tmp_path: Path) -> None:
    ours, _ = _two_files(tmp_path)
    s = bm.IndicatorSet.from_files([ours])
    item = s.psi_items().indicators
    matched = [b for b in item.items]
    result = bm.PsiResult(mode="intersection", matched=matched, count=len(matched), own_size=len(s),
                          peer_size=len(s), transcript_hash=b"\0" * 32)  # fmt: skip
    report = s.report(result)
    shown = {m.value for m in report.matches}
    assert shown == {"evil[.]com", "hxxp://evil[.]com/x", "a[at]b.example"}


def test_cli_inspect_counts_refanged(tmp_path: Path) -> None:
    ours, _ = _two_files(tmp_path)
    r = cli("inspect", "-i", str(ours), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["refanged"] == {"[.] -> .": 1, "[at] -> @": 1, "hxxp -> http; [.] -> .": 1}
    r = cli("inspect", "-i", str(ours), cwd=tmp_path)
    assert "refanged:" in r.stdout and "[.] -> .: 1" in r.stdout
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("evil[.]com\nok.example\n")
    r = cli("inspect", "-i", str(mixed), "--kind", "domain", "--no-refang", "--json", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    assert out["refanged"] == {} and out["invalid"] == {"domain: character not allowed in a domain name": 1}
    r = cli("inspect", "-i", str(mixed), "--kind", "domain", "--refang", "--json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["refanged"] == {"[.] -> .": 1}
