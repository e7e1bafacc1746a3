"""Prompt fingerprints: shingles, MinHash signatures (vectorized vs a slow reference), band values."""

from __future__ import annotations

import hashlib
import random

import mmh3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import InvalidIndicator, InvalidParameter
from blindmatch.fingerprints import (
    PROFILES,
    _minhash,
    band_values,
    fingerprint_prompts,
    hash_shingles,
    minhash_signatures,
    permutations,
    shingle_hashes,
    shingles,
)
from blindmatch.fingerprints._minhash import PERMUTATION_LABEL, minhash_reference

u32 = st.integers(min_value=0, max_value=2**32 - 1)


def test_word_shingles_ignore_punctuation_and_join_words() -> None:
    assert shingles("a, b. c d!", "word", 2) == ["a b", "b c", "c d"]
    assert shingles("a b", "word", 3) == ["a b"]  # shorter than n: one shingle of all words
    assert shingles("?!?", "word", 3) == ["?!?"]  # no word: character shingles
    assert shingles("a b c", "word", 1) == ["a", "b", "c"]


def test_char_shingles() -> None:
    assert shingles("abcd", "char", 3) == ["abc", "bcd"]
    assert shingles("ab", "char", 3) == ["ab"]
    assert shingles("abc", "char", 3) == ["abc"]


@pytest.mark.parametrize(("kind", "n"), [("line", 3), ("char", 0), ("word", 33), ("char", True)])
def test_bad_shingling_rejected(kind: str, n: int) -> None:
    with pytest.raises(InvalidParameter):
        shingles("abc", kind, n)  # type: ignore[arg-type]


def test_shingle_hashes_are_mmh3_x86_32_seed_0() -> None:
    items = ["abc", "héllo", "日本語テキスト", ""]
    got = hash_shingles(items)
    assert got.dtype == np.uint32
    assert got.tolist() == [mmh3.hash(s.encode("utf-8"), 0, signed=False) for s in items]


def test_permutation_constants_are_shake256_of_label_and_prefix_stable() -> None:
    a, b = permutations(3)
    raw = hashlib.shake_256(PERMUTATION_LABEL).digest(48)
    assert [int(x) for x in a] == [int.from_bytes(raw[16 * j : 16 * j + 8], "little") for j in range(3)]
    assert [int(x) for x in b] == [int.from_bytes(raw[16 * j + 8 : 16 * j + 16], "little") for j in range(3)]
    a9, b9 = permutations(9)
    assert a9[:3].tolist() == a.tolist() and b9[:3].tolist() == b.tolist()
    with pytest.raises(ValueError):
        a[0] = 1  # read-only: a cached constant must not be changed by a caller
    for bad in (0, 1025, True):
        with pytest.raises(InvalidParameter):
            permutations(bad)


@settings(max_examples=40, deadline=None)
@given(
    sets=st.lists(st.lists(u32, min_size=1, max_size=12), min_size=1, max_size=6),
    num_perm=st.integers(min_value=1, max_value=24),
)
def test_vectorized_equals_reference(sets: list[list[int]], num_perm: int) -> None:
    arrays = [np.array(s, dtype=np.uint32) for s in sets]
    got = minhash_signatures(arrays, num_perm)
    assert got.shape == (len(sets), num_perm) and got.dtype == np.uint32
    assert got.tolist() == [minhash_reference(s, num_perm) for s in sets]


def test_vectorized_equals_reference_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny chunks: long prompts are reduced chunk by chunk.
    monkeypatch.setattr(_minhash, "_CHUNK_SHINGLES", 3)
    rng = random.Random(5)
    sets = [[rng.getrandbits(32) for _ in range(rng.randint(1, 20))] for _ in range(30)]
    got = minhash_signatures([np.array(s, dtype=np.uint32) for s in sets], 8)
    assert got.tolist() == [minhash_reference(s, 8) for s in sets]


def test_signature_rejects_empty_shingle_set_and_handles_no_prompts() -> None:
    with pytest.raises(InvalidParameter):
        minhash_signatures([np.array([1], dtype=np.uint32), np.array([], dtype=np.uint32)], 4)
    assert minhash_signatures([], 4).shape == (0, 4)
    with pytest.raises(InvalidParameter):
        minhash_signatures([np.array([1], dtype=np.uint64)], 4)  # 64-bit keys would void the guarantee


def test_estimates_track_true_jaccard() -> None:
    # Sets with a known Jaccard similarity; the share of equal rows estimates it (mean error small).
    rng = random.Random(11)
    errors = []
    for target in (0.2, 0.5, 0.8, 0.95):
        for _ in range(10):
            common = [rng.getrandbits(32) for _ in range(int(400 * target))]
            a = common + [rng.getrandbits(32) for _ in range(400 - len(common))]
            b = common + [rng.getrandbits(32) for _ in range(400 - len(common))]
            true = len(set(a) & set(b)) / len(set(a) | set(b))
            sig = minhash_signatures([np.array(a, dtype=np.uint32), np.array(b, dtype=np.uint32)], 256)
            errors.append(abs(float(np.mean(sig[0] == sig[1])) - true))
    assert np.mean(errors) < 0.03  # sd of one estimate <= sqrt(0.25 / 256) = 0.031; mean abs ~0.8 sd
    assert max(errors) < 0.12


def test_fingerprint_known_answer() -> None:
    # Pins the whole scheme (canonical form, shingles, mmh3, permutations, banding, band encoding):
    # any change here is a new FINGERPRINT_VERSION.
    fp = fingerprint_prompts(["Write a poem about the sea, please."])
    assert fp.signatures[0][:4].tolist() == [97544344, 2685088, 168764061, 48616477]
    assert fp.bands[0][0] == "pf1.char5.k128.b11r11:0:e691f503eec4e5eae6b478220b6a8f1e"
    assert len(fp.bands[0]) == 11 and len(set(fp.bands[0])) == 11


def test_band_values_are_blake2b_of_rows_with_profile_and_index() -> None:
    prof = PROFILES["strict"]
    sig = minhash_signatures([shingle_hashes("hello there world", prof.shingle, prof.ngram)], prof.num_perm)
    vals = band_values(sig, prof)[0]
    assert len(vals) == prof.bands
    for j, v in enumerate(vals):
        rows = sig[0, j * prof.rows : (j + 1) * prof.rows].astype("<u4").tobytes()
        digest = hashlib.blake2b(rows, digest_size=16, person=b"bm1-prompt-band").hexdigest()
        assert v == f"{prof.tag}:{j}:{digest}"
    with pytest.raises(InvalidParameter):
        band_values(sig[:, :5], prof)
    with pytest.raises(InvalidParameter):
        band_values(sig.astype(np.uint64), prof)


def test_canonical_variants_give_identical_fingerprints() -> None:
    fullwidth = "\uff28\uff25\uff2c\uff2c\uff2f"  # HELLO in fullwidth letters: NFKC maps it to ASCII
    fp = fingerprint_prompts(
        ["Hello   WORLD,\tplease help.", "hello world, please help.", f"{fullwidth} world, please help."]
    )
    assert fp.bands[0] == fp.bands[1] == fp.bands[2]


def test_invalid_prompts_raise_or_are_skipped() -> None:
    with pytest.raises(InvalidIndicator, match="input #1"):
        fingerprint_prompts(["ok", "   "])
    fp = fingerprint_prompts(["ok", "   ", 3, "fine"], errors="skip")  # type: ignore[list-item]
    assert fp.indices == [0, 3] and fp.skipped == 2 and len(fp) == 2
    with pytest.raises(InvalidParameter):
        fingerprint_prompts("a single string")
    with pytest.raises(InvalidParameter):
        fingerprint_prompts(["x"], errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        fingerprint_prompts(["x"], "nope")


def test_repr_leaks_no_band_values() -> None:
    fp = fingerprint_prompts(["secret prompt text"])
    assert fp.bands[0][0] not in repr(fp) and "secret" not in repr(fp)
