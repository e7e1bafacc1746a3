"""Native and DCSO file formats: round trips, DCSO's published vectors, hostile files."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import struct
from pathlib import Path

import pytest
from bloom_helpers import tokens
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.bloom import BloomFilter, DcsoFile, FilterMetadata, dcso_filter, dcso_parameters
from blindmatch.bloom.native import MAGIC
from blindmatch.errors import InvalidParameter, MalformedFile

VECTORS = Path(__file__).parent / "vectors" / "dcso"
TEST_BLOOM = (VECTORS / "test.bloom").read_bytes()
TEST_BLOOM_GZ = (VECTORS / "test.bloom.gz").read_bytes()
BROKEN_BLOOM = (VECTORS / "broken.bloom").read_bytes()


# -- DCSO vectors (DCSO/bloom testdata, see tests/vectors/dcso/SOURCE.md) ---------------------------


@pytest.mark.parametrize("blob", [TEST_BLOOM, TEST_BLOOM_GZ], ids=["plain", "gzip"])
def test_dcso_vector_holds_exactly_foo_bar_baz(blob: bytes) -> None:
    f = DcsoFile.from_bytes(blob)
    bf = f.filter
    assert (bf.capacity, bf.fpr, bf.k, bf.m, len(bf)) == (1000, 1e-6, 20, 28755, 3)
    assert f.data == b""
    assert bf.scheme == "dcso-fnv1"
    assert bf.contains_many([b"foo", b"bar", b"baz", b"", b"12345"]).tolist() == [1, 1, 1, 0, 0]
    assert b"foo" in bf and b"bar" in bf and b"baz" in bf
    assert b"" not in bf and b"12345" not in bf
    assert bf.popcount() == 60  # 3 values x 20 positions, no overlap


def test_dcso_vector_reserializes_byte_identically() -> None:
    assert DcsoFile.from_bytes(TEST_BLOOM).to_bytes() == TEST_BLOOM
    assert DcsoFile.from_bytes(TEST_BLOOM_GZ).to_bytes() == TEST_BLOOM


def test_dcso_writing_reproduces_the_vector() -> None:
    assert dcso_parameters(1000, 1e-6) == (28755, 20)
    bf = dcso_filter(1000, 1e-6)
    bf.update([b"foo", b"bar"])
    bf.add(b"baz")
    assert DcsoFile(bf).to_bytes() == TEST_BLOOM
    assert gzip.decompress(DcsoFile(bf).to_bytes(compress=True)) == TEST_BLOOM


def test_formats_are_told_apart() -> None:
    with pytest.raises(MalformedFile, match="use DcsoFile"):
        BloomFilter.from_bytes(TEST_BLOOM)
    with pytest.raises(MalformedFile, match="use DcsoFile"):
        BloomFilter.from_bytes(TEST_BLOOM_GZ)
    with pytest.raises(MalformedFile, match="version"):
        DcsoFile.from_bytes(_native().to_bytes())


def test_dcso_broken_vector_is_rejected() -> None:
    with pytest.raises(MalformedFile):
        DcsoFile.from_bytes(BROKEN_BLOOM)


def test_dcso_data_blob_and_files(tmp_path: Path) -> None:
    bf = dcso_filter(100, 1e-4)
    bf.update([b"a", b"bb", b"ccc", "\u00e9t\u00e9".encode()])
    f = DcsoFile(bf, b"free text")
    for name in ("x.bloom", "x.bloom.gz"):
        f.save(tmp_path / name)
        back = DcsoFile.load(tmp_path / name)
        assert back.data == b"free text" and back.filter == bf
    assert (tmp_path / "x.bloom.gz").read_bytes()[:2] == b"\x1f\x8b"
    with pytest.raises(InvalidParameter, match="dcso-fnv1"):
        DcsoFile(BloomFilter.for_capacity(10, 0.01))


# -- native format -------------------------------------------------------------------------------


def _native(scheme: str = "token", n: int = 200) -> BloomFilter:
    md = FilterMetadata(
        key_id="0123456789abcdef",
        canon_version=1,
        kinds=("text", "api-key"),
        algorithm="hmac-sha256",
        context=b"ctx",
        created=1_700_000_000,
        description="test filter",
        name="unit",
        extra={"source": "tests", "n": 3},
    )
    bf = BloomFilter.for_capacity(n, 1e-4, scheme=scheme, metadata=md)
    bf.update(tokens(n // 2))
    return bf


@pytest.mark.parametrize("scheme", ["token", "mmh3", "dcso-fnv1"])
@pytest.mark.parametrize("compress", [False, True])
def test_native_round_trip(scheme: str, compress: bool, tmp_path: Path) -> None:
    bf = _native(scheme)
    blob = bf.to_bytes(compress=compress)
    back = BloomFilter.from_bytes(blob)
    assert back == bf
    assert back.metadata == bf.metadata and back.metadata.context == b"ctx"
    assert back.contains_many(tokens(100)).all()
    assert back.to_bytes(compress=compress) == blob  # deterministic, gzip included
    bf.save(tmp_path / "f.bmbloom.gz")
    assert BloomFilter.load(tmp_path / "f.bmbloom.gz") == bf
    assert (tmp_path / "f.bmbloom.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_native_layout() -> None:
    bf = BloomFilter(128, 3, capacity=10, fpr=0.01, scheme="mmh3", allow_overfill=True)
    bf.add(b"x")
    blob = bf.to_bytes()
    assert blob[:8] == MAGIC == b"\x89BMBLOOM"
    version, scheme_id, flags, k, m, cap, fpr, count, mlen = struct.unpack_from("<HBBIQQdQI", blob, 8)
    assert (version, scheme_id, flags, k, m, cap, fpr, count, mlen) == (1, 2, 1, 3, 128, 10, 0.01, 1, 2)
    assert blob[52:54] == b"{}"
    assert blob[54:70] == bf.bit_bytes()
    assert blob[70:] == hashlib.sha256(blob[:70]).digest() and len(blob) == 102
    assert BloomFilter.from_bytes(blob).allow_overfill


# -- hostile files -------------------------------------------------------------------------------


def _resum(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


def _patch(blob: bytes, offset: int, fmt: str, value: object) -> bytes:
    b = bytearray(blob[:-32])
    struct.pack_into(fmt, b, offset, value)
    return _resum(bytes(b))


def test_native_truncated_at_every_length() -> None:
    blob = _native(n=40).to_bytes()
    for cut in range(len(blob)):
        with pytest.raises(MalformedFile):
            BloomFilter.from_bytes(blob[:cut])
    with pytest.raises(MalformedFile):
        BloomFilter.from_bytes(blob + b"\0")


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "match"),
    [
        (0, "<8s", b"BMBLOOM!", "magic"),
        (8, "<H", 2, "version"),
        (10, "<B", 9, "scheme"),
        (11, "<B", 0x80, "flag"),
        (12, "<I", 0, "k="),
        (12, "<I", 10**6, "k="),
        (16, "<Q", 2**62, "m="),
        (16, "<Q", 2**40, "implies"),  # within the limit, but the bytes are not there: no allocation
        (24, "<Q", 0, "capacity"),
        (32, "<d", float("nan"), "fpr"),
        (32, "<d", 1.5, "fpr"),
        (40, "<Q", 0, "count"),  # bits set but no items
        (40, "<Q", 1, "more than"),  # 100 items' bits, count 1
        (48, "<I", 2**31, "metadata"),
    ],
)
def test_native_hostile_headers(offset: int, fmt: str, value: object, match: str) -> None:
    blob = _patch(_native().to_bytes(), offset, fmt, value)
    with pytest.raises(MalformedFile, match=match):
        BloomFilter.from_bytes(blob)


def test_native_checksum_and_padding_and_metadata() -> None:
    blob = bytearray(_native().to_bytes())
    blob[-40] ^= 1
    with pytest.raises(MalformedFile, match="checksum"):
        BloomFilter.from_bytes(bytes(blob))
    # a bit set beyond m, with a correct checksum
    bf = BloomFilter(100, 2, capacity=10, fpr=0.01, scheme="mmh3")
    bf.add(b"a")
    raw = bytearray(bf.to_bytes()[:-32])
    raw[-1] |= 0x80
    with pytest.raises(MalformedFile, match="beyond m"):
        BloomFilter.from_bytes(_resum(bytes(raw)))
    # metadata that is not JSON / not an object / repeats a key / has wrong types
    for meta in [
        b"{",
        b"[]",
        b'{"a":1,"a":2}',
        b'{"keyid":"XYZ"}',
        b'{"kinds":"text"}',
        b"\xff\xfe",
        b'{"x":{"y":1}}',
        b'{"canon-version":true}',
        b"[" * 5000 + b"]" * 5000,
    ]:
        head = struct.pack("<8sHBBIQQdQI", MAGIC, 1, 2, 0, 2, 64, 10, 0.01, 0, len(meta))
        with pytest.raises(MalformedFile):
            BloomFilter.from_bytes(_resum(head + meta + bytes(8)))


def test_gzip_bomb_is_capped() -> None:
    zeros = bytes(50_000_000)
    bomb = gzip.compress(zeros, compresslevel=9)
    assert len(bomb) < 100_000
    for parse in (BloomFilter.from_bytes, DcsoFile.from_bytes):
        with pytest.raises(MalformedFile):  # no valid header: stops after the first piece
            parse(bomb)
    # a valid header followed by far more than it implies
    native = _native(n=20).to_bytes()
    with pytest.raises(MalformedFile, match="longer than its header"):
        BloomFilter.from_bytes(gzip.compress(native + zeros, compresslevel=9))
    with pytest.raises(MalformedFile, match="limit"):  # DCSO allows a data blob, up to the cap
        DcsoFile.from_bytes(gzip.compress(TEST_BLOOM + zeros, compresslevel=9), max_bytes=1_000_000)
    # a header claiming more than the cap
    with pytest.raises(MalformedFile, match="over the limit"):
        DcsoFile.from_bytes(gzip.compress(TEST_BLOOM), max_bytes=1000)
    with pytest.raises(MalformedFile):
        BloomFilter.from_bytes(TEST_BLOOM_GZ[:-10])  # truncated gzip
    with pytest.raises(MalformedFile):
        BloomFilter.from_bytes(b"\x1f\x8b" + bytes(30))  # corrupt gzip
    with pytest.raises(MalformedFile, match="trailing"):
        DcsoFile.from_bytes(TEST_BLOOM_GZ + b"junk")
    assert DcsoFile.from_bytes(TEST_BLOOM_GZ + TEST_BLOOM_GZ).data == TEST_BLOOM  # two gzip members


def test_size_limits_on_load(tmp_path: Path) -> None:
    path = tmp_path / "t.bloom"
    path.write_bytes(TEST_BLOOM)
    with pytest.raises(MalformedFile, match="limit"):
        DcsoFile.load(path, max_bytes=1000)
    assert len(DcsoFile.load(path).filter) == 3
    with pytest.raises(MalformedFile, match="limit"):
        BloomFilter.from_bytes(_native().to_bytes(), max_bytes=100)
    with pytest.raises(InvalidParameter):
        BloomFilter.from_bytes(b"", max_bytes=0)


def _dcso_patch(offset: int, fmt: str, value: object) -> bytes:
    b = bytearray(TEST_BLOOM)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "match"),
    [
        (0, "<Q", 2, "version"),
        (0, "<Q", 0x101, "flag"),
        (8, "<Q", 0, "capacity"),
        (16, "<d", 0.0, "p out"),
        (16, "<d", float("inf"), "p out"),
        (24, "<Q", 0, "k="),
        (24, "<Q", 2**40, "k="),
        (32, "<Q", 2**63, "m="),
        (32, "<Q", 2**36, "over the limit"),
        (32, "<Q", 2**20, "truncated"),
        (40, "<Q", 0, "count"),
        (40, "<Q", 2, "more than"),  # 60 bits set, 2 items of k=20 set at most 40
    ],
)
def test_dcso_hostile_headers(offset: int, fmt: str, value: object, match: str) -> None:
    with pytest.raises(MalformedFile, match=match):
        DcsoFile.from_bytes(_dcso_patch(offset, fmt, value))


def test_dcso_truncated_and_padding() -> None:
    for cut in range(48 + 8 * 450):
        with pytest.raises(MalformedFile):
            DcsoFile.from_bytes(TEST_BLOOM[:cut])
    b = bytearray(TEST_BLOOM)
    b[48 + 8 * 450 - 1] |= 0x80  # bit 28799 >= m = 28755
    with pytest.raises(MalformedFile, match="beyond m"):
        DcsoFile.from_bytes(bytes(b))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 3647), st.binary(min_size=1, max_size=8))
def test_garbage_only_ever_raises_malformed_file(junk: bytes, at: int, patch: bytes) -> None:
    mutated = TEST_BLOOM[:at] + patch + TEST_BLOOM[at + len(patch) :]
    native = _native(n=20).to_bytes()
    for blob in (junk, mutated, native[: len(junk)] + junk, gzip.compress(junk), MAGIC + junk):
        for parse in (DcsoFile.from_bytes, BloomFilter.from_bytes):
            with contextlib.suppress(MalformedFile):
                parse(blob)
