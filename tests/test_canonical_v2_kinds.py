"""Canon version 2's new kinds (issue 13 item 4): ``crypto-address``, ``card``, ``iban``, ``org``.

Known-answer vectors (``tests/vectors/canonical-v2-kinds.json``; each published vector names its source:
BIP-173/BIP-350 for segwit addresses, EIP-55 for EVM checksums, the Bitcoin wiki for base58 addresses,
the ISO 13616 / SWIFT registry examples for IBANs), idempotence and "equivalent spellings meet" as
properties, the refusal of full card numbers, and version 1 left as it was.
"""

from __future__ import annotations

import json
import os
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import base58
import bech32m
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum import luhn

from blindmatch.canonical import (
    KINDS,
    _crypto,
    _org,
    canonicalize,
    canonicalize_many,
    card_from_pan,
    kinds_of,
)
from blindmatch.errors import InvalidIndicator, InvalidParameter

NEW_KINDS = ("crypto-address", "card", "iban", "org")
VECTORS = json.loads((Path(__file__).parent / "vectors" / "canonical-v2-kinds.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = VECTORS["cases"]
SCALE = int(os.environ.get("BLINDMATCH_HYPOTHESIS_SCALE", "1"))


def canon(kind: str, value: str) -> str:
    return canonicalize(kind, value, version=2)


# ---------------------------------------------------------------------------------------------------------
# Versions: the new kinds exist in version 2 only


def test_new_kinds_are_version_2_only() -> None:
    assert VECTORS["canon_version"] == 2
    for kind in NEW_KINDS:
        assert kind in kinds_of(2)
        assert kind not in kinds_of(1) and kind not in KINDS
        with pytest.raises(InvalidIndicator, match="unknown kind"):
            canonicalize(kind, "anything")  # the default version is 1
        with pytest.raises(InvalidIndicator, match="unknown kind"):
            canonicalize(kind, "anything", version=1)
    assert kinds_of(1) == KINDS  # the version 1 table is unchanged
    assert kinds_of(2)[: len(KINDS)] == KINDS


# ---------------------------------------------------------------------------------------------------------
# Known-answer vectors


def test_vector_file_covers_every_new_kind() -> None:
    per_kind = Counter(c["kind"] for c in CASES)
    assert set(per_kind) == set(NEW_KINDS)
    assert min(per_kind.values()) >= 15, per_kind
    for kind in NEW_KINDS:
        assert any(c["kind"] == kind and "output" in c for c in CASES), kind
        assert any(c["kind"] == kind and "error" in c for c in CASES), kind


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}-{i}" for i, c in enumerate(CASES)])
def test_vector(case: dict[str, Any]) -> None:
    kind, value = case["kind"], case["input"]
    if "output" in case:
        out = canon(kind, value)
        assert out == case["output"]
        assert canon(kind, out) == out
    else:
        with pytest.raises(InvalidIndicator) as info:
            canon(kind, value)
        assert info.value.reason == case["error"]
        assert info.value.kind == kind


# BIP-350 "Test vectors for v0-v16 native segregated witness addresses": valid and invalid (every invalid
# one, whatever its reason; the reasons are in the vector file's cases).
BIP350_VALID = [c["input"] for c in CASES if c.get("source", "").startswith("BIP-350") and "output" in c]
BIP350_INVALID = [c["input"] for c in CASES if c.get("source", "").startswith("BIP-350") and "error" in c]


def test_bip350_vectors_present_and_lowercased() -> None:
    assert len(BIP350_VALID) == 8 and len(BIP350_INVALID) == 15
    for addr in BIP350_VALID:
        assert canon("crypto-address", addr) == "btc:" + addr.lower()


def test_bip350_witness_version_decides_the_checksum() -> None:
    """The same program under the other checksum is refused: v0 needs bech32, v1+ bech32m."""
    prog = bytes(range(20))
    from bech32m.codecs import Encoding, bech32_encode, convertbits

    for witver in (0, 1, 2, 16):
        right = Encoding.BECH32 if witver == 0 else Encoding.BECH32M
        wrong = Encoding.BECH32M if witver == 0 else Encoding.BECH32
        data = bytes([witver]) + bytes(convertbits(prog, 8, 5))
        good = bech32_encode("bc", data, right)
        bad = bech32_encode("bc", data, wrong)
        assert canon("crypto-address", good) == "btc:" + good
        with pytest.raises(InvalidIndicator, match="segwit"):
            canon("crypto-address", bad)


# EIP-55 (eips.ethereum.org/EIPS/eip-55), "Test Cases": all caps, all lower, and checksummed.
EIP55_CHECKSUMMED = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_eip55_checksum_is_keccak_not_sha3() -> None:
    for addr in EIP55_CHECKSUMMED:
        assert "0x" + _crypto.eip55_checksum(addr[2:]) == addr
        assert "0x" + _crypto.eip55_checksum(addr[2:].lower()) == addr
        # every single flipped letter breaks the checksum
        for i, c in enumerate(addr):
            if i >= 2 and c.isalpha():
                flipped = addr[:i] + c.swapcase() + addr[i + 1 :]
                with pytest.raises(InvalidIndicator, match="EIP-55"):
                    canon("crypto-address", flipped)


# ---------------------------------------------------------------------------------------------------------
# card: full numbers never accepted, never quoted

PANS = ["4111111111111111", "5500005555555559", "378282246310005", "6011111111111117", "4222222222222"]


def test_card_from_pan() -> None:
    assert card_from_pan("4111 1111 1111 1111", "09/28") == "411111******1111|2028-09"
    assert card_from_pan("3782-822463-10005", "2030-01") == "378282******0005|2030-01"
    for pan in PANS:
        out = card_from_pan(pan, "1229")
        assert out == f"{pan[:6]}******{pan[-4:]}|2029-12"
        assert canon("card", out) == out
        with pytest.raises(InvalidIndicator, match="full card number refused"):
            canon("card", f"{pan}|12/29")
    with pytest.raises(InvalidIndicator, match="Luhn"):
        card_from_pan("4111111111111112", "09/28")
    with pytest.raises(InvalidIndicator, match="13 to 19 digits"):
        card_from_pan("411111******1111", "09/28")
    with pytest.raises(InvalidIndicator, match="expiry"):
        card_from_pan("4111111111111111", "13/28")
    with pytest.raises(TypeError):
        card_from_pan(4111111111111111, "09/28")  # type: ignore[arg-type]


def _leaks(exc: BaseException | None, secrets: list[str]) -> bool:
    """Whether the error, its printed traceback or anything chained to it contains a secret."""
    if exc is None:
        return False
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc) + repr(exc.args)
    if any(s in text for s in secrets):
        return True
    return _leaks(exc.__cause__, secrets) or _leaks(exc.__context__, secrets)


@pytest.mark.parametrize("pan", PANS)
def test_full_card_number_never_reaches_an_error_or_a_report(pan: str) -> None:
    spaced = " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))
    secrets = [pan, pan[6:-4], spaced]
    for value in (
        f"{pan}|09/28",
        pan,
        spaced,
        f"{spaced} | 09/28",
        f"{pan}|13/28",
        f"|{pan}",
        f"{pan}x|09/28",
    ):
        with pytest.raises(InvalidIndicator) as info:
            canon("card", value)
        assert not _leaks(info.value, secrets)
    with pytest.raises(InvalidIndicator) as info:
        card_from_pan(pan, "13/28")
    assert not _leaks(info.value, secrets)
    with pytest.raises(InvalidIndicator) as info:
        card_from_pan(pan[:-1] + str((int(pan[-1]) + 1) % 10), "09/28")  # Luhn fails
    assert not _leaks(info.value, [pan[:-1]])
    # batches: the raised error names the position, the skip counts name reasons only
    values = [f"{pan}|09/28", "411111******1111|09/28"]
    with pytest.raises(InvalidIndicator) as info:
        canonicalize_many("card", values, version=2)
    assert not _leaks(info.value, secrets)
    batch = canonicalize_many("card", values, errors="skip", version=2)
    assert batch.values == ["411111******1111|2028-09"]
    assert not any(s in repr(batch) for s in secrets)


def test_card_never_allowed_in_a_bloom_exchange() -> None:
    from blindmatch.bloom.consortium import NOT_IN_BLOOM, build_exchange
    from blindmatch.tokens import Tokenizer

    assert "card" in NOT_IN_BLOOM
    tok = Tokenizer(bytes(32))
    with pytest.raises(InvalidParameter, match="never allowed in a Bloom exchange"):
        build_exchange(tok, {"card": ["411111******1111|09/28"]})
    ex = build_exchange(tok, {"text": ["x"]})
    with pytest.raises(InvalidParameter, match="never allowed in a Bloom exchange"):
        ex.check(tok, "card", ["411111******1111|09/28"])


def test_card_and_iban_are_redacted_in_reports() -> None:
    import blindmatch as bm

    assert {"card", "iban"} <= bm.SENSITIVE_KINDS


# ---------------------------------------------------------------------------------------------------------
# iban: every non-canonical spelling of the check digits is refused


def test_iban_check_digits_00_01_99_refused() -> None:
    """00, 01 and 99 are congruent mod 97 to 97, 98 and 02: stdnum alone accepts them, ISO 13616 does not
    issue them, and accepting them would give one account two spellings."""
    found = 0
    for n in range(3000):
        bban = f"WEST{n:014d}"
        digits = stdnum_iban.calc_check_digits("GB00" + bban)
        alias = {"97": "00", "98": "01", "02": "99"}.get(digits)
        if alias is None:
            continue
        found += 1
        good, bad = f"GB{digits}{bban}", f"GB{alias}{bban}"
        assert stdnum_iban.is_valid(bad, check_country=False)  # the library alone would accept it
        assert canon("iban", good) == good
        with pytest.raises(InvalidIndicator, match="02 to 98"):
            canon("iban", bad)
    assert found >= 30


# ---------------------------------------------------------------------------------------------------------
# org


def test_org_suffix_table_and_equivalent_names() -> None:
    assert ("inc",) in _org.SUFFIXES and ("gmbh",) in _org.SUFFIXES and ("sa",) in _org.SUFFIXES
    assert len(_org.SUFFIXES) > 250
    same = [
        "Acme Holdings, Inc.",
        "ACME HOLDINGS INC",
        "Acme Holdings Incorporated",
        "acme holdings",
        "Acme Holdings Ltd.",
        "\uff21\uff23\uff2d\uff25 \uff28\uff2f\uff2c\uff24\uff29\uff2e\uff27\uff33, \uff29\uff2e\uff23.",
        "Acme Holdings Inc Ltd",
        "Acme Holdings, L.L.C.",
    ]
    assert {canon("org", s) for s in same} == {"acme holdings"}
    assert canon("org", "Acme Holdings") != canon("org", "Acme Widgets")


def test_cleanco_basename_is_not_idempotent_which_is_why_we_loop() -> None:
    from cleanco import basename

    once = basename("Acme Inc Ltd")
    assert basename(once) != once  # if this ever holds, cleanco fixed it; our loop stays correct
    assert canon("org", "Acme Inc Ltd") == canon("org", "acme") == "acme"


# ---------------------------------------------------------------------------------------------------------
# Properties: idempotent, only InvalidIndicator, equivalent spellings meet

_UNICODE_BITS = "\u00df\u0130\u200b\u00a0\u3000\u0301\uff10\uff21\uff58\u2022\u2019\u2014\u2122\u00e9\u0435"
_chars = st.sampled_from(list(_UNICODE_BITS)) | st.characters()


def _mix(alphabet: str, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(list(alphabet)) | st.sampled_from(list(_UNICODE_BITS)), max_size=max_size)


@st.composite
def _addressish(draw: st.DrawFn) -> str:
    r = draw(st.integers(0, 4))
    prefix = draw(st.sampled_from(["", "", "btc:", "evm:", "EVM:", " "]))
    if r == 0:
        h = draw(st.binary(min_size=20, max_size=20)).hex()
        body = "0x" + draw(st.sampled_from([h, h.upper(), _crypto.eip55_checksum(h), h[:5].upper() + h[5:]]))
    elif r == 1:
        version = draw(st.sampled_from([0x00, 0x05, 0x6F, 0xC4, 0x80]))
        body = base58.b58encode_check(bytes([version]) + draw(st.binary(min_size=19, max_size=22))).decode()
    elif r == 2:
        witver = draw(st.integers(0, 16))
        size = 20 if witver == 0 else draw(st.integers(2, 40))
        body = bech32m.encode(
            draw(st.sampled_from(["bc", "tb"])), witver, draw(st.binary(min_size=size, max_size=size))
        )
        body = draw(st.sampled_from([body, body.upper()]))
    elif r == 3:
        body = draw(_mix("0123456789abcdefABCDEFxbc1qpzry9x8gf2tvdw0s3jn54khce6mua7l:", 70))
    else:
        body = draw(st.text(_chars, max_size=40))
    if draw(st.integers(0, 9)) == 0 and body:  # one character changed
        i = draw(st.integers(0, len(body) - 1))
        body = body[:i] + draw(st.sampled_from(list("0aAqpzX1"))) + body[i + 1 :]
    return prefix + body


@st.composite
def _cardish(draw: st.DrawFn) -> str:
    digits = st.text("0123456789", min_size=0, max_size=20)
    number = draw(
        st.one_of(
            st.builds(
                lambda a, m, b: a + m + b,
                st.text("0123456789", min_size=5, max_size=9),
                st.sampled_from(
                    ["******", "XXXXXX", "x", "...", "\u2022\u2022\u2022\u2022", "*X", "**********"]
                ),
                st.text("0123456789", min_size=3, max_size=5),
            ),
            digits,
            _mix("0123456789*xX. -"),
        )
    )
    exp = draw(
        st.one_of(
            st.builds(lambda m, y: f"{m}/{y}", st.integers(0, 13), st.integers(0, 2100)),
            st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(1990, 2110), st.integers(0, 13)),
            _mix("0123456789/-. "),
        )
    )
    sep = draw(st.sampled_from(["|", "|", " | ", "", "||"]))
    return f"{number}{sep}{exp}"


_ibanish = st.one_of(
    st.sampled_from([c["input"] for c in CASES if c["kind"] == "iban"]),
    _mix("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.iban", 40),
    st.builds(
        lambda cc, bban: cc + stdnum_iban.calc_check_digits(cc + "00" + bban) + bban,
        st.sampled_from(["GB", "DE", "FR", "NL", "BE", "CH", "XX", "gb"]),
        st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=30),
    ),
)
_orgish = st.one_of(
    st.builds(
        lambda name, sep, suffixes: name + sep + " ".join(suffixes),
        _mix("abcXYZ &'.-,()/"),
        st.sampled_from([" ", ", ", " & ", ""]),
        st.lists(
            st.sampled_from(["Inc.", "LTD", "GmbH", "& Co. KG", "S.A.", "l.l.c.", "Co", "spółka z o.o."]),
            max_size=3,
        ),
    ),
    st.text(_chars, max_size=40),
)
SHAPED: dict[str, st.SearchStrategy[str]] = {
    "crypto-address": _addressish(),
    "card": _cardish(),
    "iban": _ibanish,
    "org": _orgish,
}


@pytest.mark.parametrize("kind", NEW_KINDS)
@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_idempotent_and_only_invalid_indicator(kind: str, data: st.DataObject) -> None:
    value = data.draw(st.one_of(st.text(_chars, max_size=40), SHAPED[kind]))
    try:
        out = canon(kind, value)
    except InvalidIndicator as exc:
        assert exc.kind == kind
        return
    assert isinstance(out, str) and out
    out.encode("utf-8")
    assert canon(kind, out) == out


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_evm_spellings_meet(raw: bytes) -> None:
    h = raw.hex()
    want = "evm:0x" + h
    for spelling in (h, h.upper(), _crypto.eip55_checksum(h)):
        assert canon("crypto-address", "0x" + spelling) == want
        assert canon("crypto-address", f" evm:0x{spelling} ") == want


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.sampled_from(["bc", "tb"]), st.integers(0, 16), st.data())
def test_segwit_spellings_meet(hrp: str, witver: int, data: st.DataObject) -> None:
    size = data.draw(st.sampled_from([20, 32]) if witver == 0 else st.integers(2, 40))
    addr = bech32m.encode(hrp, witver, data.draw(st.binary(min_size=size, max_size=size)))
    assert canon("crypto-address", addr) == canon("crypto-address", addr.upper()) == "btc:" + addr


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.sampled_from([0x00, 0x05, 0x6F, 0xC4]), st.binary(min_size=20, max_size=20))
def test_base58_addresses_round_trip(version: int, h160: bytes) -> None:
    addr = base58.b58encode_check(bytes([version]) + h160).decode()
    assert canon("crypto-address", addr) == canon("crypto-address", "btc:" + addr) == "btc:" + addr


@st.composite
def _pan(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=12, max_size=18))
    return body + luhn.calc_check_digit(body)


@settings(max_examples=300 * SCALE, deadline=None)
@given(_pan(), st.integers(1, 12), st.integers(2000, 2099))
def test_card_spellings_meet(pan: str, month: int, year: int) -> None:
    want = f"{pan[:6]}******{pan[-4:]}|{year}-{month:02d}"
    masked = f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}"
    assert card_from_pan(pan, f"{month:02d}/{year % 100:02d}") == want
    for spelling in (
        f"{masked}|{month:02d}/{year % 100:02d}",
        f"{masked.replace('*', 'X')} | {month}/{year}",
        f"{pan[:8]}****{pan[-4:]}|{year}-{month:02d}",
        f"{pan[:6]}...{pan[-4:]}|{month:02d}{year % 100:02d}",
    ):
        assert canon("card", spelling) == want
    with pytest.raises(InvalidIndicator, match="full card number refused"):
        canon("card", f"{pan}|{month:02d}/{year % 100:02d}")


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.sampled_from(["GB", "DE", "FR", "NL"]), st.integers(0, 10**10 - 1))
def test_iban_spellings_meet(country: str, account: int) -> None:
    bban = {
        "GB": f"NWBK60{account:014d}"[:18],
        "DE": f"{account:018d}",
        "FR": f"{account:023d}",
        "NL": f"ABNA{account:010d}",
    }[country]
    good = country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban
    assert canon("iban", good) == good
    grouped = " ".join(good[i : i + 4] for i in range(0, len(good), 4))
    for spelling in (grouped, grouped.lower(), f"IBAN {grouped}", good.lower(), "-".join(grouped.split())):
        assert canon("iban", spelling) == good


@settings(max_examples=300 * SCALE, deadline=None)
@given(
    st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8), min_size=1, max_size=4),
    st.sampled_from(
        [("Inc.", "INC"), ("Ltd", "Limited"), ("GmbH", "G.m.b.H."), ("S.A.", "SA"), ("LLC", "L.L.C.")]
    ),
)
def test_org_spellings_meet(words: list[str], suffixes: tuple[str, str]) -> None:
    name = " ".join(words)
    a = canon("org", f"{name.title()}, {suffixes[0]}")
    b = canon("org", f"{name.upper()} {suffixes[1]}")
    assert a == b == canon("org", a)


_TEMPLATES = {
    "crypto-address": [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1Be{}ed",
        "bc1qw508d6qejxtdg4y5r3z{}rvary0c5xw7kv8f3t4",
    ],
    "card": ["411111**{}***1111|09/28", "411111******1111|0{}/28"],
    "iban": ["GB82 WEST {}1234 5698 7654 32"],
    "org": ["Acme {} Holdings, Inc.", "A{}b"],
}


@pytest.mark.skipif(
    os.environ.get("BLINDMATCH_EXHAUSTIVE") != "1", reason="about a minute; set BLINDMATCH_EXHAUSTIVE=1"
)
@pytest.mark.parametrize("kind", sorted(_TEMPLATES))
def test_every_code_point_in_a_template(kind: str) -> None:
    """Every Unicode scalar value placed in kind-shaped templates: only InvalidIndicator, idempotent."""
    for template in _TEMPLATES[kind]:
        for cp in range(0x110000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            try:
                out = canon(kind, template.replace("{}", chr(cp)))
            except InvalidIndicator:
                continue
            assert canon(kind, out) == out, (kind, hex(cp))
