"""blindmatch.published.tagset: round trips, the pinned byte format, hostile files, size, bits_for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blindmatch.errors import InvalidParameter, MalformedFile
from blindmatch.published.tagset import TagSet, bits_for, encode_tags


def _nb(bits: int) -> int:
    return (bits + 7) // 8


def _random_tags(n: int, bits: int, seed: int, spread: int | None = None) -> list[bytes]:
    """About ``n`` distinct sorted tags below ``2^bits`` (below ``2^spread`` when given: clustered)."""
    nb = _nb(bits)
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n, nb), dtype=np.uint8)
    top = min(bits, spread) if spread is not None else bits
    if top < 8 * nb:  # clear the bits at and above `top`
        whole, part = divmod(8 * nb - top, 8)
        raw[:, :whole] = 0
        if whole < nb:
            raw[:, whole] &= (1 << (8 - part)) - 1
    uniq = np.unique(raw.view(f"S{nb}").ravel())
    return [bytes(row) for row in uniq.view(np.uint8).reshape(-1, nb)]


def _int_tags(values: list[int], bits: int) -> list[bytes]:
    return [v.to_bytes(_nb(bits), "big") for v in sorted(set(values))]


def _check_round_trip(tags: list[bytes], bits: int) -> TagSet:
    data = encode_tags(tags, bits)
    ts = TagSet.from_bytes(data, max_count=len(tags))
    assert (ts.count, ts.bits, len(ts)) == (len(tags), bits, len(tags))
    assert ts.tags() == tags
    ranks = {t: i for i, t in enumerate(tags)}
    assert ts.find(tags) == list(range(len(tags)))
    absent = _absent(tags, bits)
    assert ts.find(absent) == [ranks.get(t) for t in absent]
    assert all(ranks.get(t) is None for t in absent)
    assert encode_tags(ts.tags(), bits) == data  # one encoding per set
    return ts


def _absent(tags: list[bytes], bits: int) -> list[bytes]:
    """Neighbours of members (v - 1, v + 1), 0 and 2^bits - 1, minus the members themselves."""
    top = (1 << bits) - 1
    members = set(tags)
    out = {0, top}
    for t in tags[:200]:
        v = int.from_bytes(t, "big")
        out.update(x for x in (v - 1, v + 1) if 0 <= x <= top)
    return [t for t in _int_tags(list(out), bits) if t not in members]


# -- round trips ------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bits=st.integers(32, 128),
    n=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
    spread=st.none() | st.integers(1, 128),
)
def test_round_trip_random(bits: int, n: int, seed: int, spread: int | None) -> None:
    _check_round_trip(_random_tags(n, bits, seed, spread), bits)


@settings(max_examples=150, deadline=None)
@given(bits=st.integers(32, 128), data=st.data())
def test_round_trip_chosen_values(bits: int, data: st.DataObject) -> None:
    top = (1 << bits) - 1
    edge = st.sampled_from([0, 1, 2, top - 1, top, 1 << (bits - 1), (1 << (bits - 1)) - 1])
    values = data.draw(st.lists(st.integers(0, top) | edge, max_size=50))
    _check_round_trip(_int_tags(values, bits), bits)


def test_round_trip_extremes() -> None:
    for bits in (32, 33, 63, 64, 65, 127, 128):
        top = (1 << bits) - 1
        for values in ([], [0], [top], [0, top], [top - 1, top], [0, 1, 2, 3], list(range(0, 4000, 3))):
            _check_round_trip(_int_tags(values, bits), bits)


def test_trailing_zero_bytes_are_kept() -> None:
    """Fixed-width numpy bytes drop trailing NULs on conversion; tags and lookups must not."""
    tags = [b"\x00\x00\x00\x00\x00", b"\x00\x00\x01\x00\x00", b"\x01\x00\x00\x00\x00"]
    ts = _check_round_trip(tags, 40)
    assert ts.tags()[0] == b"\x00" * 5
    assert ts.find([b"\x00\x00\x01\x00\x00", b"\x00\x00\x01\x00\x01", b"\x00" * 5]) == [1, None, 0]


def test_find_on_empty_set_and_empty_query() -> None:
    ts = TagSet.from_bytes(encode_tags([], 40), max_count=0)
    assert ts.count == 0 and ts.tags() == []
    assert ts.find([b"\x00" * 5, b"\xff" * 5]) == [None, None]
    assert ts.find([]) == []


def test_find_rejects_wrong_query_length() -> None:
    ts = TagSet.from_bytes(encode_tags(_int_tags([1, 2, 3], 72), 72), max_count=3)
    for bad in ([b"\x00" * 8], [b"\x00" * 10], [b"\x00" * 9, b"\x00"], ["abcdefghi"], b"\x00" * 9):
        with pytest.raises(InvalidParameter):
            ts.find(bad)  # type: ignore[arg-type]


# -- the byte format --------------------------------------------------------------------------------


def test_known_answer_44_bits() -> None:
    """Worked by hand: gaps 1, 0x09ffffffffff, 1, 0x05fffffffffe; k = 41 (a = 5 bytes, b = 1 bit).

    Quotients 0, 4, 0, 2; remainders' top bits 0, 1, 0, 1 -> 0101 padded = 0x50; unary 1 00001 1 001
    padded = 0x86 0x40.
    """
    tags = _int_tags([0x000000000001, 0x0A0000000000, 0x0A0000000001, 0x0FFFFFFFFFFF], 44)
    expected = (
        "01" "2c" "00000004" "29"  # version, 44 bits, 4 tags, k = 41
        "50"  # high remainder bits
        "0000000001" "ffffffffff" "0000000001" "fffffffffe"  # low remainder bytes
        "8640"  # quotients in unary
    )  # fmt: skip
    assert encode_tags(tags, 44).hex() == expected


def test_known_answer_32_bits() -> None:
    tags = _int_tags([1, 5, 0xFF00, 0x12345678, 0xFFFFFFFE], 32)
    assert encode_tags(tags, 32).hex() == "0120000000051d0001268000000100000400fefb335778cba986f010"
    assert encode_tags([], 32).hex() == "01200000000000"


def test_size_near_the_bound() -> None:
    n = 1 << 16
    tags = _random_tags(n, 72, 7)
    data = encode_tags(tags, 72)
    assert len(data) / len(tags) <= (72 - 16 + 2.2) / 8
    # Rice coding of uniform gaps: about log2(2^72 / n) + 1.5 bits a tag
    assert len(data) * 8 / len(tags) < 72 - math.log2(len(tags)) + 1.6


# -- encoding rejects bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "bits"),
    [
        ([b"\x00\x00\x00\x02", b"\x00\x00\x00\x01"], 32),  # descending
        ([b"\x00\x00\x00\x01", b"\x00\x00\x00\x01"], 32),  # duplicate
        ([b"\x01\x00\x00\x00\x00", b"\x00\xff\xff\xff\xff"], 40),  # descending in a high byte only
        ([b"\x00\x00\x00\x01", b"\x00\x00\x01"], 32),  # wrong length
        ([b"\x00\x00\x00\x00\x01"], 32),  # too long
        ([b"\x02\x00\x00\x00\x00"], 33),  # top bit above 33
        ([b"\x80" + b"\x00" * 15], 127),
        (["abcd"], 32),  # not bytes
        ([1234], 32),
        (b"\x00\x00\x00\x01", 32),  # one string, not a sequence of them
        ([], 31),
        ([], 129),
        ([], True),
    ],
)
def test_encode_rejects(tags: list[bytes], bits: int) -> None:
    with pytest.raises(InvalidParameter):
        encode_tags(tags, bits)


# -- hostile files ----------------------------------------------------------------------------------


def _header(bits: int, n: int, k: int, version: int = 1) -> bytes:
    return bytes([version, bits]) + n.to_bytes(4, "big") + bytes([k])


def _parse_or_malformed(data: bytes, max_count: int) -> TagSet | None:
    """Parse ``data``; only MalformedFile may come out, and what parses must be a valid set."""
    try:
        ts = TagSet.from_bytes(data, max_count=max_count)
    except MalformedFile as exc:
        assert str(exc)
        return None
    got = ts.tags()
    assert ts.count == len(got) <= max_count
    values = [int.from_bytes(t, "big") for t in got]
    assert all(len(t) == _nb(ts.bits) for t in got)
    assert values == sorted(set(values)) and all(v < 1 << ts.bits for v in values)
    assert TagSet.from_bytes(encode_tags(got, ts.bits), max_count=max_count).tags() == got
    return ts


SAMPLES = [
    (encode_tags(_int_tags([0x000000000001, 0x0A0000000000, 0x0A0000000001, 0x0FFFFFFFFFFF], 44), 44), 4),
    (encode_tags(_random_tags(40, 72, 3), 72), 40),
    (encode_tags(_random_tags(30, 128, 4), 128), 30),
    (encode_tags(_random_tags(25, 35, 5, spread=20), 35), 25),
]


@pytest.mark.parametrize(("data", "n"), SAMPLES)
def test_every_truncation_is_malformed(data: bytes, n: int) -> None:
    for cut in range(len(data)):
        with pytest.raises(MalformedFile):
            TagSet.from_bytes(data[:cut], max_count=n)


@pytest.mark.parametrize(("data", "n"), SAMPLES)
def test_every_bit_flip_is_malformed_or_valid(data: bytes, n: int) -> None:
    for i in range(8 * len(data)):
        flipped = bytearray(data)
        flipped[i // 8] ^= 0x80 >> (i % 8)
        _parse_or_malformed(bytes(flipped), max_count=2 * n)


@pytest.mark.parametrize(("data", "n"), SAMPLES)
def test_trailing_bytes_are_malformed(data: bytes, n: int) -> None:
    for extra in (b"\x00", b"\x01", b"\x80", b"\xff", b"\x00" * 100):
        with pytest.raises(MalformedFile):
            TagSet.from_bytes(data + extra, max_count=n)


@settings(max_examples=300, deadline=None)
@given(
    header=st.tuples(st.integers(0, 2), st.integers(0, 255), st.integers(0, 2**32 - 1), st.integers(0, 255)),
    body=st.binary(max_size=200),
    max_count=st.integers(0, 2**40),
)
def test_random_files_raise_only_malformed(header: tuple[int, int, int, int], body: bytes,
                                           max_count: int) -> None:  # fmt: skip
    version, bits, n, k = header
    _parse_or_malformed(_header(bits, n, k, version) + body, max_count)


@settings(max_examples=300, deadline=None)
@given(bits=st.integers(32, 128), n=st.integers(0, 40), k=st.integers(0, 128), body=st.binary(max_size=300))
def test_plausible_headers_raise_only_malformed(bits: int, n: int, k: int, body: bytes) -> None:
    _parse_or_malformed(_header(bits, n, min(k, bits)) + body, max_count=40)


def test_huge_declared_count() -> None:
    for n in (2**32 - 1, 2**31, 10**9):
        with pytest.raises(MalformedFile, match="limit"):
            TagSet.from_bytes(_header(64, n, 40) + b"\xff" * 64, max_count=1000)
        with pytest.raises(MalformedFile, match="truncated"):  # allowed, but the data cannot hold it
            TagSet.from_bytes(_header(64, n, 40) + b"\xff" * 64, max_count=2**40)


def test_count_over_max_count() -> None:
    data = encode_tags(_random_tags(10, 64, 1), 64)
    assert TagSet.from_bytes(data, max_count=10).count == 10
    with pytest.raises(MalformedFile, match="limit of 9"):
        TagSet.from_bytes(data, max_count=9)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated"),
        (_header(32, 0, 0)[:-1], "truncated"),
        (_header(32, 0, 0, version=2), "format byte"),
        (_header(31, 0, 0), "outside"),
        (_header(129, 0, 0), "outside"),
        (_header(32, 0, 1), "Rice parameter"),  # an empty set has k = 0
        (_header(32, 1, 33) + b"\x00" * 5, "Rice parameter"),  # k above bits
        (_header(32, 0, 0) + b"\x00", "trailing"),
        # k = 0: gaps are the quotients; q = 5, 0 -> a zero gap (a repeated tag)
        (_header(32, 2, 0) + bytes([0b00000110]), "strictly increasing"),
        # k = 1 (b = 1): remainder bits 1, 0, then a nonzero padding bit
        (_header(32, 2, 1) + bytes([0b10100000, 0b11000000]), "padding"),
        # k = 32: the remainder is 0 but the quotient 1 makes the tag 2^32
        (_header(32, 1, 32) + b"\x00\x00\x00\x00" + bytes([0b01000000]), "32 bits or longer"),
        # 128-bit gaps adding up past 2^128
        (_header(128, 2, 128) + b"\xff" * 32 + bytes([0b11000000]), "128 bits or longer"),
        # three one bits where the header says two
        (_header(32, 2, 0) + bytes([0b11100000]), "holds 3 values"),
        # the unary stream ends before its last byte
        (_header(32, 8, 0) + bytes([0xFF, 0x00]), "trailing"),
        # quotients adding up to more than 2n
        (_header(32, 2, 0) + bytes([0b00000000, 0b10000000]), "over-long"),
    ],
)
def test_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(MalformedFile, match=message):
        TagSet.from_bytes(data, max_count=10)


def test_handmade_valid_file() -> None:
    """The unary and remainder layout read as the docstring says (k = 1: one remainder bit per tag)."""
    # gaps 3 (q=1, r=1) and 4 (q=2, r=0): tags 3 and 7; unary 01 001 -> 01001000
    ts = TagSet.from_bytes(_header(32, 2, 1) + bytes([0b10000000, 0b01001000]), max_count=2)
    assert ts.tags() == _int_tags([3, 7], 32)


def test_from_bytes_argument_types() -> None:
    data = encode_tags(_int_tags([1], 32), 32)
    assert TagSet.from_bytes(bytearray(data), max_count=1).count == 1
    assert TagSet.from_bytes(memoryview(data), max_count=1).count == 1
    for bad in (-1, 1.5, True, None):
        with pytest.raises(InvalidParameter):
            TagSet.from_bytes(data, max_count=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        TagSet.from_bytes("01", max_count=1)  # type: ignore[arg-type]


# -- bits_for ---------------------------------------------------------------------------------------


def test_bits_for_values() -> None:
    assert bits_for(1 << 20, 1 << 20) == 80
    assert bits_for(1 << 20, 1 << 30) == 90
    assert bits_for(1 << 20, (1 << 30) + 1) == 91
    assert bits_for(3, 1) == 42
    assert bits_for(1, 1) == 40
    assert bits_for(1, 1, security_bits=10) == 32
    assert bits_for(1 << 44, 1 << 44) == 128
    with pytest.raises(InvalidParameter, match="more than 128"):
        bits_for(1 << 44, (1 << 44) + 1)
    for bad in ((0, 1, 40), (1, 0, 40), (1, 1, 0), (1.0, 1, 40), (True, 1, 40)):
        with pytest.raises(InvalidParameter):
            bits_for(*bad)  # type: ignore[arg-type]


@given(n=st.integers(1, 2**40), q=st.integers(1, 2**40), s=st.integers(1, 60))
def test_bits_for_is_the_ceiling(n: int, q: int, s: int) -> None:
    exact = s + (n * q - 1).bit_length()
    if exact > 128:
        with pytest.raises(InvalidParameter):
            bits_for(n, q, s)
        return
    t = bits_for(n, q, s)
    assert t == max(32, exact)
    assert n * q <= 2 ** (t - s)  # expected false matches n * q / 2^t <= 2^-s
    assert t == 32 or n * q > 2 ** (t - s - 1)
