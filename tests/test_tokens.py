"""Keyed tokens: domain separation, key handling, batches."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from blindmatch import InvalidIndicator, InvalidParameter, Tokenizer

KEY = bytes(range(32))


def test_token_is_hmac_of_canonical_under_subkey() -> None:
    tok = Tokenizer(KEY)
    sk = tok.subkey("text")
    assert tok.token("text", "  abc ") == hmac.digest(sk, b"abc", "sha256")
    tok_b = Tokenizer(KEY, algorithm="blake2b")
    assert tok_b.token("text", "abc") == hashlib.blake2b(
        b"abc", key=tok_b.subkey("text"), digest_size=32
    ).digest()


@pytest.mark.parametrize(
    "other",
    [
        Tokenizer(KEY, context=b"other"),
        Tokenizer(bytes(32)),
        Tokenizer(KEY, algorithm="blake2b"),
    ],
)
def test_domain_separation(other: Tokenizer) -> None:
    base = Tokenizer(KEY)
    assert base.token("text", "x") != other.token("text", "x")


def test_kind_separation() -> None:
    tok = Tokenizer(KEY)
    assert tok.token("text", "same") != tok.token("api-key", "same")
    assert len({tok.subkey(k) for k in ("text", "api-key", "device-fingerprint")}) == 3


def test_short_key_refused_and_repr_hides_key() -> None:
    with pytest.raises(InvalidParameter):
        Tokenizer(b"k" * 15)
    with pytest.raises(InvalidParameter):
        Tokenizer(KEY, algorithm="md5")  # type: ignore[arg-type]
    tok = Tokenizer(KEY)
    assert KEY.hex() not in repr(tok) and tok.key_id in repr(tok)
    assert len(tok.key_id) == 16
    assert tok.key_id == Tokenizer(KEY, context=b"c").key_id != Tokenizer(bytes(32)).key_id


def test_batch_matches_single_and_skips_by_reason() -> None:
    tok = Tokenizer(KEY)
    batch = tok.tokens("text", ["a", " ", "b", ""], errors="skip")
    assert list(batch) == [tok.token("text", "a"), tok.token("text", "b")]
    assert batch.indices == [0, 2]
    assert batch.skipped == 2 and batch.skipped_by_reason == {"empty": 2}
    with pytest.raises(InvalidIndicator, match=r"input #1"):
        tok.tokens("text", ["a", " "])
