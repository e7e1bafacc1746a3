"""Canon version 2, accounts (issue 13, item 3): a versioned platform registry; version 1 unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch import InvalidIndicator
from blindmatch.canonical import canonicalize
from blindmatch.canonical._platforms import PLATFORMS, REGISTRY_VERSION, lookup


def v2(value: str) -> str:
    return canonicalize("account", value, version=2)


def v1(value: str) -> str:
    return canonicalize("account", value)


def test_registry_version_and_names_are_unique() -> None:
    assert REGISTRY_VERSION == 1
    names = [n for p in PLATFORMS for n in (p.name, *p.aliases)]
    assert len(names) == len(set(names))
    for p in PLATFORMS:
        for n in (p.name, *p.aliases):
            assert n == n.lower() and lookup(n) == (p, False)
            v1(f"{n}:x")  # every name is a valid v1 platform name


def test_twitter_spellings_meet_in_v2_only() -> None:
    spellings = ["twitter:@Alice", "x:alice", "twitter:alice", " X : @ALICE ", "twitter.com:Alice"]
    assert {v2(s) for s in spellings} == {"twitter:alice"}
    assert len({v1(s) for s in spellings}) == len(spellings)  # version 1 does not change


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("GitHub:@Octo-Cat", "github:octo-cat"),
        ("gh:octo-cat", "github:octo-cat"),
        ("reddit:/u/Spez", "reddit:spez"),
        ("reddit:u/spez", "reddit:spez"),
        ("tg:@Durov", "telegram:durov"),
        ("t.me:durov", "telegram:durov"),
        ("discord:@some_user.1", "discord:some_user.1"),
        ("ig:@Some.User", "instagram:some.user"),
        ("tiktok:@Some_User", "tiktok:some_user"),
        ("yt:@MrBeast", "youtube:mrbeast"),
        ("fb:Zuck.Berg", "facebook:zuck.berg"),
        ("linkedin:in/John-Doe", "linkedin:john-doe"),
        # numeric ids: a form of their own
        ("twitter-id:12345", "twitter-id:12345"),
        ("x-id:0012345", "twitter-id:12345"),
        ("twitter:1234567890123456789", "twitter-id:1234567890123456789"),  # over 15 characters
        ("telegram:12345", "telegram-id:12345"),  # handles start with a letter
        ("telegram:-1001234", "telegram-id:-1001234"),
        ("facebook:100004123456789", "facebook-id:100004123456789"),
        ("youtube:UC4R8DWoMoI7CAwX8_LjQHig", "youtube-id:UC4R8DWoMoI7CAwX8_LjQHig"),  # case kept
        ("youtube:@UC4R8DWoMoI7CAwX8_LjQHig", "youtube:uc4r8dwomoi7cawx8_ljqhig"),  # '@': a handle
        ("discord-id:80351110224678912", "discord-id:80351110224678912"),
        # the labs' own ids: opaque, case kept, the platform's name resolved
        ("claude.ai:Acct_1", "anthropic:Acct_1"),
        ("ChatGPT:user-AbC", "openai:user-AbC"),
        # unknown platforms: version 1's rule
        ("aws:arn:aws:iam::1:user/Bob", "aws:arn:aws:iam::1:user/Bob"),
        ("mastodon:@Alice@example.social", "mastodon:@Alice@example.social"),
        ("reddit-id:t2_abc", "reddit-id:t2_abc"),  # reddit has no numeric-id form: an unknown platform
    ],
)
def test_platform_forms(value: str, want: str) -> None:
    assert v2(value) == want
    assert v2(want) == want


def test_handles_and_ids_never_meet() -> None:
    assert v2("twitter:12345") == "twitter:12345"  # digits that can be a handle are a handle
    assert v2("twitter-id:12345") == "twitter-id:12345"
    assert v2("twitter:@12345") == "twitter:12345"
    assert v2("instagram:12345") != v2("instagram-id:12345")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("github:Alice-", "not a github handle or id"),
        ("github:al--ice", "not a github handle or id"),
        ("twitter:al ice", "not a twitter handle or id"),
        ("twitter-id:abc", "not a twitter id"),
        ("twitter-id:@123", "not a twitter id"),
        ("telegram:@12345", "not a telegram handle or id"),
        ("discord:Name#1234", "not a discord handle or id"),
        ("reddit:ab", "not a reddit handle"),
        ("twitter:", "empty id"),
    ],
)
def test_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIndicator) as exc:
        v2(value)
    assert exc.value.reason == reason
    v1(value) if value != "twitter:" else None  # version 1 still takes what it took


_platform = st.sampled_from([n for p in PLATFORMS for n in (p.name, *p.aliases)] + ["other", "x-id"])
_piece = st.sampled_from(
    ["a", "Z", "0", "9", "_", "-", ".", "@", "/", " ", "#", "\uff21", "\u00e9", "u/", "UC", "in/"]
)
_ident = st.lists(_piece, max_size=26).map("".join)


@settings(max_examples=500, deadline=None)
@given(platform=_platform, ident=_ident)
def test_v2_idempotent(platform: str, ident: str) -> None:
    try:
        out = v2(f"{platform}:{ident}")
    except InvalidIndicator:
        return
    assert v2(out) == out
    assert out.partition(":")[0] == v1(out).partition(":")[0]


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=40))
def test_v2_only_raises_invalid_indicator(value: str) -> None:
    try:
        out = v2(value)
    except InvalidIndicator:
        return
    assert v2(out) == out
