"""The STIX pattern expansion stays cheap on hostile input: its size is counted before anything is built."""

from __future__ import annotations

import json

import pytest

from blindmatch.inputs import parse_stix, stix_pattern
from blindmatch.inputs.stix_pattern import UnsupportedPattern, equality_groups

MAX_COMPARISONS: int = getattr(stix_pattern, "MAX_COMPARISONS", 4096)


def _ors(n: int, path: str = "a:b") -> str:
    return "(" + " OR ".join(f"{path}='{i}'" for i in range(n)) + ")"


def _ands(n: int) -> str:
    return " AND ".join(["a:b=''"] * n)


HOSTILE = {
    # 256^3 alternatives: more than 16 million groups, 50 million comparisons
    "cube": "[" + " AND ".join([_ors(256)] * 3) + "]",
    # few alternatives, each long: 128 groups of 5001 comparisons (640,128 in all), under the group cap
    "long groups": "[" + _ors(128) + " AND " + _ands(5000) + "]",
    # the same across observations
    "observations": " AND ".join(["[" + _ors(16) + "]"] * 2 + ["[" + _ands(3000) + "]"]),
    # nested products: (((x OR y) AND (x OR y)) OR ...) AND ... grows without any wide OR
    "nested": "[" + " AND ".join(["((a:b='1' OR a:b='2') AND (a:b='3' OR a:b='4'))"] * 12) + "]",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_expansion_is_refused_before_it_is_built(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real_dnf = stix_pattern._dnf

    def counting_dnf(node: object) -> list[list[stix_pattern.Comparison]]:
        out = real_dnf(node)  # type: ignore[arg-type]
        built.append(sum(len(g) for g in out))
        return out

    monkeypatch.setattr(stix_pattern, "_dnf", counting_dnf)
    with pytest.raises(UnsupportedPattern, match=r"more than \d+ (alternatives|comparisons)"):
        equality_groups(HOSTILE[name])
    assert built == []  # nothing was expanded


def test_the_cap_counts_every_comparison_of_every_alternative() -> None:
    # 16 x 16 alternatives of 2 comparisons: 512 comparisons, within the cap
    groups = equality_groups("[" + _ors(16) + " AND " + _ors(16, "c:d") + "]")
    assert len(groups) == 256 and all(len(g) == 2 for g in groups)
    n = MAX_COMPARISONS  # exactly at the cap is accepted, one more is not
    assert sum(map(len, equality_groups("[" + _ands(n) + "]"))) == n
    with pytest.raises(UnsupportedPattern, match="comparisons"):
        equality_groups("[" + _ands(n + 1) + "]")
    with pytest.raises(UnsupportedPattern, match="alternatives"):
        equality_groups("[" + _ors(257) + "]")


def test_expansion_keeps_its_order_and_content() -> None:
    groups = equality_groups("[a:b='1' OR a:b='2'] AND ([c:d='3'] OR [c:d='4' AND e:f='5'])")
    assert [[(c.path, c.value) for c in g] for g in groups] == [
        [("a:b", "1"), ("c:d", "3")],
        [("a:b", "1"), ("c:d", "4"), ("e:f", "5")],
        [("a:b", "2"), ("c:d", "3")],
        [("a:b", "2"), ("c:d", "4"), ("e:f", "5")],
    ]


def test_reader_counts_a_hostile_pattern_as_unmapped() -> None:
    objs = [
        {"type": "indicator", "id": "indicator--1", "pattern": HOSTILE["nested"], "pattern_type": "stix"},
        {"type": "indicator", "id": "indicator--2", "pattern": "[email-addr:value = 'a@example.org']",
         "pattern_type": "stix"},
    ]  # fmt: skip
    batch = parse_stix(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objs}), "b.json")
    assert dict(batch.unmapped) == {"stix:pattern too large": 1}
    assert [(r.kind, r.value) for r in batch.rows] == [("email", "a@example.org")]


# --- integer literals, IN sets, qualifiers (issue 11, section E) -------------------------------------------


def _pairs(pattern: str) -> list[list[tuple[str, object]]]:
    return [[(c.path, c.value) for c in g] for g in equality_groups(pattern)]


def test_integer_literal_is_read_as_its_decimal_text() -> None:
    assert _pairs("[autonomous-system:number = 64500]") == [[("autonomous-system:number", "64500")]]
    assert _pairs("[autonomous-system:number = +0064500]") == [[("autonomous-system:number", "64500")]]
    (c,) = equality_groups("[autonomous-system:number = 64500]")[0]
    assert c.literal == "int"
    (s,) = equality_groups("[autonomous-system:number = '64500']")[0]
    assert s.literal == "str"


@pytest.mark.parametrize(
    "pattern",
    [
        "[file:size = 1.5]",
        "[x:y = true]",
        "[x:y = t'2020-01-01T00:00:00Z']",
        "[x:y = h'ff']",
        "[x:y = b'AA==']",
    ],
)
def test_other_non_string_literals_stay_unsupported(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        equality_groups(pattern)


def test_stix_reader_takes_an_integer_only_where_stix_defines_one() -> None:
    objs = [{"type": "indicator", "pattern": "[autonomous-system:number = 64500 OR url:value = 7]"}]
    batch = parse_stix(json.dumps(objs), "b.json")
    assert [(r.kind, r.value) for r in batch.rows] == [("asn", "64500")]
    assert dict(batch.unmapped) == {"stix-path:url:value (integer)": 1}


def test_in_set_is_read_as_equalities_joined_by_or() -> None:
    assert _pairs("[domain-name:value IN ('a.example', 'b.example')]") == [
        [("domain-name:value", "a.example")],
        [("domain-name:value", "b.example")],
    ]
    assert _pairs("[autonomous-system:number IN (64500, '64501') AND x:y = 'z']") == [
        [("autonomous-system:number", "64500"), ("x:y", "z")],
        [("autonomous-system:number", "64501"), ("x:y", "z")],
    ]


@pytest.mark.parametrize(
    "pattern", ["[a:b NOT IN ('x', 'y')]", "[a:b IN ('x', 1.5)]", "[a:b IN ('x', t'2020-01-01T00:00:00Z')]"]
)
def test_negated_in_or_a_set_of_other_literals_is_unsupported(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        equality_groups(pattern)


def test_in_sets_count_against_the_caps_before_they_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = "(" + ", ".join(f"'{i}'" for i in range(300)) + ")"
    built: list[int] = []
    real_dnf = stix_pattern._dnf

    def counting_dnf(node: object) -> list[list[stix_pattern.Comparison]]:
        out = real_dnf(node)  # type: ignore[arg-type]
        built.append(len(out))
        return out

    monkeypatch.setattr(stix_pattern, "_dnf", counting_dnf)
    with pytest.raises(UnsupportedPattern, match="alternatives"):
        equality_groups(f"[a:b IN {wide}]")
    sixteen = "(" + ", ".join(f"'{i}'" for i in range(16)) + ")"
    with pytest.raises(UnsupportedPattern, match="alternatives"):  # 16 x 16 x 16
        equality_groups(f"[a:b IN {sixteen} AND c:d IN {sixteen} AND e:f IN {sixteen}]")
    assert built == []
    assert len(equality_groups(f"[a:b IN {sixteen} AND c:d IN {sixteen}]")) == 256


def test_stix_reader_reads_an_in_set() -> None:
    p = "[domain-name:value IN ('a.example', 'b.example') OR autonomous-system:number IN (64500, 64501)]"
    batch = parse_stix(json.dumps([{"type": "indicator", "pattern": p}]), "b.json")
    assert [(r.kind, r.value) for r in batch.rows] == [
        ("domain", "a.example"),
        ("domain", "b.example"),
        ("asn", "64500"),
        ("asn", "64501"),
    ]


@pytest.mark.parametrize(
    "qualifier",
    ["WITHIN 300 SECONDS", "REPEATS 5 TIMES", "START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'"],
)
def test_qualifiers_keep_the_comparisons_of_their_observation(qualifier: str) -> None:
    # they constrain when and how often the observations happen, not what is observed
    assert _pairs(f"[domain-name:value = 'a.example'] {qualifier}") == [[("domain-name:value", "a.example")]]
    assert _pairs(f"([a:b = '1'] AND [c:d = '2']) {qualifier} OR [e:f = '3']") == [
        [("a:b", "1"), ("c:d", "2")],
        [("e:f", "3")],
    ]


def test_qualifiers_stack_and_followedby_stays_unsupported() -> None:
    assert _pairs("[a:b = '1'] REPEATS 2 TIMES WITHIN 60 SECONDS") == [[("a:b", "1")]]
    with pytest.raises(UnsupportedPattern, match="FOLLOWEDBY"):
        equality_groups("[a:b = '1'] WITHIN 60 SECONDS FOLLOWEDBY [c:d = '2']")


def test_stix_reader_keeps_the_indicators_of_a_qualified_pattern() -> None:
    obs = "[ipv4-addr:value = '198.51.100.7' AND url:value = 'http://evil.example/']"
    p = obs + " REPEATS 3 TIMES WITHIN 60 SECONDS"
    batch = parse_stix(json.dumps([{"type": "indicator", "pattern": p}]), "b.json")
    assert [(r.kind, r.value) for r in batch.rows] == [
        ("ip", "198.51.100.7"),
        ("url", "http://evil.example/"),
    ]
    assert not batch.unmapped
