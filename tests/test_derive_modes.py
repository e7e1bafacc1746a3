"""The seed derivations (``blindmatch._derive``), the mode specs and the PSI message-size functions."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from blindmatch import InvalidParameter
from blindmatch._derive import derive_bytes, derive_key, derive_permutation, new_seed
from blindmatch.psi import (
    MODE_SPECS,
    MODES,
    Initiator,
    Responder,
    confirm_size,
    mode_spec,
    request_size,
    response_size,
)

SEED = bytes(range(32))


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out with hmac, independently of ``cryptography``."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def test_derive_key_is_rfc5869_hkdf_with_our_salt_and_info() -> None:
    info = bytes([5]) + b"label" + (7).to_bytes(8, "big")
    assert derive_key(SEED, b"label", 7) == _hkdf_sha256(SEED, b"blindmatch/derive/v1", info, 32)


def test_derivations_are_separated_by_label_and_index() -> None:
    keys = {derive_key(SEED, lab, i) for lab in (b"a", b"b", b"ab") for i in range(3)}
    assert len(keys) == 9
    assert derive_bytes(SEED, b"x", 100)[:40] == derive_bytes(SEED, b"x", 40)
    assert derive_bytes(SEED, b"x", 0) == b""


def test_permutation_is_a_permutation_and_depends_on_label() -> None:
    p = derive_permutation(SEED, b"order", 1000)
    assert sorted(p) == list(range(1000))
    assert p != list(range(1000))
    assert p != derive_permutation(SEED, b"other", 1000)
    assert derive_permutation(SEED, b"order", 1) == [0]
    assert derive_permutation(SEED, b"order", 0) == []


@pytest.mark.parametrize(
    ("seed", "label", "index"),
    [(b"short", b"x", 0), (SEED, b"", 0), (SEED, b"x" * 256, 0), (SEED, b"x", -1), (SEED, b"x", True)],
)
def test_derive_rejects_bad_arguments(seed: bytes, label: bytes, index: int) -> None:
    with pytest.raises(InvalidParameter):
        derive_key(seed, label, index)


def test_new_seed_checks_the_rng() -> None:
    assert new_seed(lambda n: b"\1" * n) == b"\1" * 32
    with pytest.raises(InvalidParameter):
        new_seed(lambda n: b"\1" * (n - 1))


def test_mode_specs_agree_with_what_each_side_learns() -> None:
    assert MODES == ("intersection", "mutual", "cardinality", "mutual-cardinality")
    assert [MODE_SPECS[m].code for m in MODES] == [1, 2, 3, 4]
    table = {m: (mode_spec(m).learns("initiator"), mode_spec(m).learns("responder")) for m in MODES}
    assert table == {
        "intersection": ("intersection", "nothing"),
        "mutual": ("intersection", "intersection"),
        "cardinality": ("count", "nothing"),
        "mutual-cardinality": ("count", "count"),
    }
    with pytest.raises(InvalidParameter):
        mode_spec("union")
    with pytest.raises(InvalidParameter):
        mode_spec("mutual").learns("auditor")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("n_a", "n_b"), [(0, 0), (1, 0), (0, 3), (5, 2)])
def test_size_functions_match_real_messages(mode: str, n_a: int, n_b: int) -> None:
    a = [b"a%d" % i for i in range(n_a)]
    b = [b"b%d" % i for i in range(n_b)]
    init = Initiator(a, mode)  # type: ignore[arg-type]
    resp = Responder(b)
    m1 = init.start()
    m2 = resp.respond(m1)
    m3 = init.finish(m2)
    assert len(m1) == request_size(n_a)
    assert len(m2) == response_size(n_a, n_b)
    assert (m3 is not None) == mode_spec(mode).confirm
    if m3 is not None:
        assert len(m3) == confirm_size(n_b)


def test_protocol_doc_shows_the_mode_specs_table() -> None:
    from pathlib import Path

    from blindmatch.psi import mode_table_markdown

    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = mode_table_markdown()
    assert table in doc
    assert table.count("\n") == len(MODES) + 1
