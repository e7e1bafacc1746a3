"""Input readers and canon version 2's kinds (issue 13 item 5): MISP JSON, MISP CSV and STIX forms of
crypto addresses, IBANs, payment cards and platform accounts, and that a full card number never leaves
the reader (rows, counts, errors)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from blindmatch.canonical import canonicalize
from blindmatch.errors import InvalidIndicator, MalformedFile
from blindmatch.inputs import InputBatch, parse_csv, parse_misp, parse_stix, read_indicators

BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
EVM = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
IBAN = "GB82 WEST 1234 5698 7654 32"
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
PAN = "4111111111111111"
PAN2 = "5500 0055 5555 5559"  # written with spaces, as a card shows it
CARD = "411111******1111|2028-09"
CARD2 = "550000******5559|2027-01"
#: Every way a full number could show in the output: whole, compact, and its hidden middle digits.
SECRETS = (PAN, PAN2, PAN2.replace(" ", ""), PAN[6:-4], PAN2.replace(" ", "")[6:-4], "0055 5555")


def _attr(t: str, v: object, rel: str | None = None) -> dict[str, object]:
    a: dict[str, object] = {"type": t, "value": v}
    if rel is not None:
        a["object_relation"] = rel
    return a


def _obj(name: str, *attrs: tuple[str, str, object]) -> dict[str, object]:
    return {"name": name, "Attribute": [_attr(t, v, rel) for t, rel, v in attrs]}


def _misp(attrs: list[dict[str, object]], objs: list[dict[str, object]] = ()) -> str:  # type: ignore[assignment]
    return json.dumps({"Event": {"Attribute": attrs, "Object": list(objs)}})


def _kv(b: InputBatch) -> list[tuple[str, str]]:
    return [(r.kind, r.value) for r in b.rows]


def _no_pan(*texts: object) -> None:
    """No full card number (nor its hidden digits) in anything the reader gave back."""
    for t in texts:
        s = t if isinstance(t, str) else repr(t)
        for secret in SECRETS:
            assert secret not in s, f"card digits {secret!r} leaked"


def _no_pan_in(b: InputBatch) -> None:
    _no_pan(b.rows, dict(b.unmapped), dict(b.ignored), dict(b.refanged), b)


def _all_canon2_valid(b: InputBatch) -> None:
    for r in b.rows:
        assert canonicalize(r.kind, r.value, version=2)


# --- MISP JSON ---------------------------------------------------------------------------------------


def test_misp_attribute_types_map_to_canon2_kinds() -> None:
    b = parse_misp(
        _misp(
            [
                _attr("btc", BTC),
                _attr("btc", EVM),
                _attr("iban", IBAN),
                _attr("github-username", "octo-cat"),
                _attr("twitter-id", "1449912345678901248"),
                _attr("twitter-id", "@lure_news"),
                _attr("jabber-id", "someone@jabber.example"),
                _attr("xmr", XMR),
                _attr("bic", "CTBKLUPP"),
                _attr("bank-account-nr", "1234567890"),
                _attr("cc-number", PAN),
            ]
        ),
        "e.json",
    )
    assert _kv(b) == [
        ("crypto-address", BTC),
        ("crypto-address", EVM),
        ("iban", IBAN),
        ("account", "github:octo-cat"),
        ("account", "twitter-id:1449912345678901248"),
        ("account", "twitter:@lure_news"),
        ("account", "jabber:someone@jabber.example"),
    ]
    assert b.unmapped == {
        "misp:xmr (Monero: no crypto-address form)": 1,
        "misp:bic": 1,
        "misp:bank-account-nr": 1,
        "misp:cc-number without expiry": 1,
    }
    _all_canon2_valid(b)
    _no_pan_in(b)
    assert canonicalize("account", "twitter-id:1449912345678901248", version=2) == (
        "twitter-id:1449912345678901248"
    )


def test_canon2_rows_are_invalid_under_canon1_not_dropped() -> None:
    b = parse_misp(_misp([_attr("iban", IBAN), _attr("btc", BTC)]), "e.json")
    assert [r.kind for r in b.rows] == ["iban", "crypto-address"]
    for r in b.rows:
        with pytest.raises(InvalidIndicator, match="unknown kind"):
            canonicalize(r.kind, r.value, version=1)


def test_misp_credit_card_object_gives_the_masked_card_only() -> None:
    b = parse_misp(
        _misp(
            [],
            [
                _obj(
                    "credit-card",
                    ("cc-number", "cc-number", PAN),
                    ("datetime", "expiration", "2028-09-30"),
                    ("text", "card-security-code", "737"),
                    ("text", "name", "A Holder"),
                ),
                _obj("credit-card", ("datetime", "expiration", "01/27"), ("cc-number", "cc-number", PAN2)),
                # already masked by the lab that shared it: read through the card rule
                _obj(
                    "credit-card",
                    ("cc-number", "cc-number", "4111 11** **** 1111"),
                    ("datetime", "expiration", "2028-09-01T00:00:00"),
                ),
                _obj("credit-card", ("cc-number", "cc-number", PAN)),  # no expiration
                _obj(
                    "credit-card",
                    ("cc-number", "cc-number", "4111111111111112"),  # fails the Luhn check
                    ("datetime", "expiration", "2028-09-30"),
                ),
                _obj("credit-card", ("cc-number", "cc-number", PAN), ("datetime", "expiration", "13/28")),
                _obj(
                    "credit-card",
                    ("cc-number", "cc-number", int(PAN)),  # a JSON number
                    ("datetime", "expiration", "2028-09-30"),
                ),
            ],
        ),
        "e.json",
        misp_text=True,  # even then the security code is never read
    )
    assert _kv(b) == [("card", CARD), ("text", "A Holder"), ("card", CARD2), ("card", CARD), ("card", CARD)]
    assert b.rows[0].origin == "e.json#Event.Object[0].Attribute[0]"
    assert b.unmapped == {
        "misp:cc-number without expiry": 1,
        "misp:cc-number invalid (number or expiry)": 2,
        "misp:datetime": 6,  # the expirations: read with their card, counted as any datetime is
    }
    assert b.ignored["misp:credit-card card-security-code"] == 1
    assert "737" not in repr(b.rows)
    for r in b.rows:
        if r.kind == "card":
            assert canonicalize("card", r.value, version=2) == r.value
    _no_pan_in(b)
    assert "4111111111111112" not in repr(b)  # the failing number is not kept either


def test_misp_card_errors_never_quote_the_number() -> None:
    doc = _misp(
        [], [_obj("credit-card", ("cc-number", "cc-number", [PAN]), ("datetime", "expiration", "09/28"))]
    )
    with pytest.raises(MalformedFile) as exc:
        parse_misp(doc, "e.json")
    _no_pan(str(exc.value), repr(exc.value), exc.value.args)
    bad_type = _misp([{"type": 7, "value": PAN}])
    with pytest.raises(MalformedFile) as exc:
        parse_misp(bad_type, "e.json")
    _no_pan(str(exc.value))


def test_misp_crypto_objects() -> None:
    b = parse_misp(
        _misp(
            [],
            [
                _obj("coin-address", ("btc", "address", BTC), ("text", "symbol", "BTC")),
                _obj("coin-address", ("btc", "address", EVM), ("text", "symbol", "ETH")),
                _obj("coin-address", ("btc", "address", BTC)),  # no symbol: read as written
                _obj("coin-address", ("btc", "address", BTC), ("text", "symbol", "BCH")),  # looks like BTC
                _obj("coin-address", ("xmr", "address-xmr", XMR), ("text", "symbol", "XMR")),
                {
                    "name": "btc-wallet",
                    "Attribute": [_attr("btc", BTC, "wallet-address"), _attr("float", "2.25", "balance_BTC")],
                },
            ],
        ),
        "e.json",
    )
    assert _kv(b) == [
        ("crypto-address", BTC), ("crypto-address", EVM), ("crypto-address", BTC), ("crypto-address", BTC),
    ]  # fmt: skip
    assert b.unmapped == {
        "misp:coin-address of a coin other than Bitcoin or an EVM chain": 1,
        "misp:xmr (Monero: no crypto-address form)": 1,
        "misp:float": 1,
    }
    assert b.ignored == {"misp:text": 4}  # the symbols
    _all_canon2_valid(b)


def test_misp_bank_account_and_account_objects() -> None:
    b = parse_misp(
        _misp(
            [],
            [
                _obj(
                    "bank-account",
                    ("iban", "iban", IBAN),
                    ("bic", "swift", "CTBKLUPP"),
                    ("bank-account-nr", "account", "1234567890"),
                    ("text", "institution-name", "Bank"),
                ),
                _obj("github-user", ("text", "id", "1"), ("github-username", "username", "octocat")),
                _obj("twitter-account", ("text", "id", "1357111317"), ("text", "name", "octocat")),
                _obj("telegram-account", ("text", "id", "-1001234567890"), ("text", "username", "T3l3gr4m")),
                _obj("reddit-account", ("text", "account-name", "spez"), ("text", "account-id", "t2_1w72")),
                _obj(
                    "facebook-account",
                    ("text", "account-id", "100004123456789"),
                    ("text", "account-name", "some.page"),
                ),
                _obj(
                    "user-account",
                    ("text", "account-type", "twitter"),
                    ("text", "user-id", "42"),
                    ("text", "username", "bird"),
                ),
            ],
        ),
        "e.json",
    )
    assert _kv(b) == [
        ("iban", IBAN),
        ("account", "github-id:1"),
        ("account", "github:octocat"),
        ("account", "twitter-id:1357111317"),
        ("account", "twitter:octocat"),
        ("account", "telegram-id:-1001234567890"),
        ("account", "telegram:T3l3gr4m"),
        ("account", "reddit:spez"),
        ("account", "reddit:t2_1w72"),  # Reddit has no numeric ids in the registry
        ("account", "facebook-id:100004123456789"),
        ("account", "facebook:some.page"),
        ("account", "twitter-id:42"),
        ("account", "twitter:bird"),
    ]
    assert b.unmapped == {"misp:bic": 1, "misp:bank-account-nr": 1}
    _all_canon2_valid(b)


# --- MISP CSV ----------------------------------------------------------------------------------------

_CSV_HEADER = [
    "uuid",
    "event_id",
    "category",
    "type",
    "value",
    "comment",
    "to_ids",
    "date",
    "object_relation",
    "attribute_tag",
    "object_uuid",
    "object_name",
    "object_meta_category",
]


def _misp_csv(rows: list[tuple[str, str, str, str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(_CSV_HEADER)
    for t, v, rel, obj in rows:
        w.writerow(
            ["u", "1", "Financial fraud", t, v, "", "1", "20240101", rel, "", "o" if obj else "", obj, ""]
        )
    return out.getvalue()


def test_misp_csv_maps_canon2_types_and_never_pairs_cards() -> None:
    text = _misp_csv(
        [
            ("btc", BTC, "", ""),
            ("iban", IBAN, "", ""),
            ("twitter-id", "12345", "", ""),
            ("jabber-id", "someone@jabber.example", "", ""),
            ("xmr", XMR, "", ""),
            # a CSV row has no expiry beside its number: never a card, and the number is not kept
            ("cc-number", PAN, "cc-number", "credit-card"),
            ("datetime", "2028-09-30", "expiration", "credit-card"),
            ("text", "737", "card-security-code", "credit-card"),
            ("cc-number", PAN2, "", ""),
        ]
    )
    b = parse_csv(text, "e.csv", misp_text=True)
    assert _kv(b) == [
        ("crypto-address", BTC),
        ("iban", IBAN),
        ("account", "twitter-id:12345"),
        ("account", "jabber:someone@jabber.example"),
    ]
    assert b.unmapped == {
        "misp:xmr (Monero: no crypto-address form)": 1,
        "misp:cc-number without expiry": 2,
        "misp:datetime": 1,
    }
    assert b.ignored == {"misp:credit-card card-security-code": 1}
    _all_canon2_valid(b)
    _no_pan_in(b)


def test_csv_kind_column_accepts_canon2_kinds(tmp_path: Path) -> None:
    p = tmp_path / "k.csv"
    p.write_text(f"kind,value\niban,{IBAN}\ncrypto-address,{EVM}\norg,Acme Inc\ncard,{CARD}\n")
    b = read_indicators(p)
    assert [r.kind for r in b.rows] == ["iban", "crypto-address", "org", "card"]
    assert not b.unmapped


# --- STIX --------------------------------------------------------------------------------------------


def _bundle(*objs: dict[str, object]) -> str:
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objs)})


def _custom_attr(t: str, v: object) -> dict[str, object]:
    return {"type": "x-misp-attribute", "id": "x-misp-attribute--1", "x_misp_type": t, "x_misp_value": v}


def _custom_obj(name: str, *attrs: tuple[str, str, object]) -> dict[str, object]:
    return {
        "type": "x-misp-object",
        "id": "x-misp-object--1",
        "x_misp_name": name,
        "x_misp_attributes": [{"type": t, "object_relation": rel, "value": v} for t, rel, v in attrs],
    }


def test_stix_misp_custom_attributes() -> None:
    b = parse_stix(
        _bundle(
            _custom_attr("btc", BTC),
            _custom_attr("iban", IBAN),
            _custom_attr("xmr", XMR),
            _custom_attr("cc-number", PAN),
            _custom_attr("jabber-id", "someone@jabber.example"),
            _custom_attr("text", "free text"),
            # misp-stix's older form: the type in the object type
            {"type": "x-misp-object-btc", "id": "x-misp-object-btc--1", "x_misp_value": EVM},
            {"type": "x-misp-object-port", "id": "x-misp-object-port--1", "x_misp_value": "8443"},
        ),
        "b.json",
    )
    assert _kv(b) == [
        ("crypto-address", BTC),
        ("iban", IBAN),
        ("account", "jabber:someone@jabber.example"),
        ("crypto-address", EVM),
    ]
    assert b.rows[0].origin == "b.json#objects[0]"
    assert b.unmapped == {
        "misp:xmr (Monero: no crypto-address form)": 1,
        "misp:cc-number without expiry": 1,
        "stix:x-misp-attribute": 1,
        "stix:x-misp-object-port": 1,
    }
    _all_canon2_valid(b)
    _no_pan_in(b)


def test_stix_misp_custom_objects() -> None:
    b = parse_stix(
        _bundle(
            _custom_obj(
                "bank-account",
                ("iban", "iban", IBAN),
                ("bic", "swift", "CTBKLUPP"),
                ("text", "beneficiary", "John Smith"),
            ),
            _custom_obj(
                "credit-card",
                ("cc-number", "cc-number", PAN),
                ("datetime", "expiration", "2028-09-30"),
                ("text", "card-security-code", "737"),
            ),
            _custom_obj("credit-card", ("cc-number", "cc-number", PAN2)),
            _custom_obj("btc-wallet", ("btc", "wallet-address", BTC), ("float", "balance_BTC", "2.25")),
            _custom_obj("coin-address", ("btc", "address", BTC), ("text", "symbol", "LTC")),
            _custom_obj("person", ("phone-number", "phone-number", "0123456789")),
        ),
        "b.json",
    )
    assert _kv(b) == [("iban", IBAN), ("card", CARD), ("crypto-address", BTC)]
    assert b.rows[1].origin == "b.json#objects[1].x_misp_attributes[0]"
    assert b.unmapped == {
        "misp:bic": 1,
        "misp:cc-number without expiry": 1,
        "misp:datetime": 1,
        "misp:float": 1,
        "misp:coin-address of a coin other than Bitcoin or an EVM chain": 1,
        "stix:x-misp-object": 1,
    }
    assert b.ignored["misp:credit-card card-security-code"] == 1
    _all_canon2_valid(b)
    _no_pan_in(b)
    with pytest.raises(MalformedFile) as exc:
        parse_stix(_bundle({**_custom_obj("credit-card"), "x_misp_attributes": PAN}), "b.json")
    _no_pan(str(exc.value))


def test_stix_user_account_ids_use_the_numeric_form() -> None:
    b = parse_stix(
        _bundle(
            {"type": "user-account", "id": "user-account--1", "account_type": "twitter",
             "user_id": "1357111317", "account_login": "octocat"},
            {"type": "indicator", "id": "indicator--1", "pattern_type": "stix",
             "pattern": "[user-account:account_type = 'telegram' AND user-account:user_id = '1234567890' AND "
                        "user-account:account_login = 'T3l3gr4mUs3r']"},
            {"type": "user-account", "id": "user-account--2", "account_type": "jabber",
             "user_id": "42"},  # a platform the registry does not know: kept as platform:id
        ),
        "b.json",
    )  # fmt: skip
    assert _kv(b) == [
        ("account", "twitter:octocat"),
        ("account", "twitter-id:1357111317"),
        ("account", "telegram-id:1234567890"),
        ("account", "telegram:T3l3gr4mUs3r"),
        ("account", "jabber:42"),
    ]
    _all_canon2_valid(b)


def test_misp_and_stix_exports_of_the_same_financial_objects_agree() -> None:
    objs = [
        ("bank-account", [("iban", "iban", IBAN), ("bic", "swift", "CTBKLUPP")]),
        ("credit-card", [("cc-number", "cc-number", PAN), ("datetime", "expiration", "2028-09-30")]),
        ("btc-wallet", [("btc", "wallet-address", BTC)]),
    ]
    misp = parse_misp(_misp([], [_obj(n, *a) for n, a in objs]), "e.json")
    stix = parse_stix(_bundle(*(_custom_obj(n, *a) for n, a in objs)), "b.json")
    assert _kv(misp) == _kv(stix) == [("iban", IBAN), ("card", CARD), ("crypto-address", BTC)]
    assert misp.unmapped == stix.unmapped


@pytest.mark.parametrize(
    "pattern",
    [
        f"['{PAN}']",
        f"[payment-card:card_number = '{PAN}' '{PAN}']",
        f"[payment-card:card_number = {PAN} {PAN}]",
        f"[payment-card:card_number = '{PAN}'] AND",
    ],
)
def test_stix_pattern_errors_never_quote_a_value(pattern: str) -> None:
    doc = _bundle({"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": pattern})
    with pytest.raises(MalformedFile) as exc:
        parse_stix(doc, "b.json")
    assert "b.json#objects[0]" in str(exc.value)
    _no_pan(str(exc.value), repr(exc.value))


def test_stix_card_number_patterns_are_counted_by_path_only() -> None:
    b = parse_stix(
        _bundle(
            {
                "type": "indicator",
                "id": "indicator--1",
                "pattern_type": "stix",
                "pattern": f"[payment-card:card_number = '{PAN}' AND payment-card:expiration_date = '09/28']",
            }
        ),
        "b.json",
    )
    assert not b.rows
    assert set(b.unmapped) == {"stix-path:payment-card:card_number", "stix-path:payment-card:expiration_date"}
    _no_pan_in(b)


_pans = st.builds(
    lambda body: body + luhn.calc_check_digit(body), st.text("0123456789", min_size=12, max_size=18)
)
_expiries = st.sampled_from(["2028-09-30", "09/28", "13/28", "", "2028-09-01T00:00:00", "garbage"])


@settings(max_examples=150, deadline=None)
@given(pan=_pans, exp=_expiries, spaced=st.booleans())
def test_no_full_card_number_in_any_reader_output(pan: str, exp: str, spaced: bool) -> None:
    written = " ".join(pan[i : i + 4] for i in range(0, len(pan), 4)) if spaced else pan
    cc = [("cc-number", "cc-number", written)] + ([("datetime", "expiration", exp)] if exp else [])
    batches = [
        parse_misp(_misp([_attr("cc-number", written)], [_obj("credit-card", *cc)]), "e.json"),
        parse_csv(_misp_csv([("cc-number", written, "cc-number", "credit-card")]), "e.csv"),
        parse_stix(_bundle(_custom_attr("cc-number", written), _custom_obj("credit-card", *cc)), "b.json"),
    ]
    for b in batches:
        text = repr(b)
        assert pan not in text and written not in text
        for r in b.rows:
            assert r.kind == "card"
            assert r.value == canonicalize("card", r.value, version=2)
            assert r.value.startswith(pan[:6] + "******" + pan[-4:] + "|")
