"""The OT-extension core (blindmatch.hazmat.ot): base OTs, the KKRT extension, the code, the row hash, the
bit transpose, refusal of bad peer input, and the known-answer vectors (tests/vectors/ot-core-v1.json)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import nacl.bindings as nb
import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from blindmatch.errors import InvalidParameter, LocalProtocolError, RemoteError
from blindmatch.hazmat import ot
from blindmatch.hazmat._bitmatrix import transpose_bits
from blindmatch.hazmat._errors import InvalidGroupElement

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ot-core-v1.json").read_text(encoding="utf-8"))
CTX = b"test context"
SEED_A, SEED_B = bytes(range(32)), bytes(range(1, 33))
CHOICES = hashlib.blake2b(b"choices", digest_size=64).digest()

# a point of order 8, the identity, the point of order 2, y = p (non-canonical) and y = 2 (not on the curve)
ORDER8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
IDENTITY = bytes([1]) + bytes(31)
ORDER2 = bytes.fromhex("ec" + "ff" * 30 + "7f")
NONCANONICAL = bytes.fromhex("ed" + "ff" * 30 + "7f")
G = nb.crypto_scalarmult_ed25519_base_noclamp((1).to_bytes(32, "little"))
BAD_POINTS = [ORDER8, IDENTITY, ORDER2, NONCANONICAL, nb.crypto_core_ed25519_add(G, ORDER8)]


def _naive_transpose(a: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(a, axis=1, bitorder="little")
    return np.packbits(np.ascontiguousarray(bits.T), axis=1, bitorder="little")


def _base_ots(context: bytes = CTX) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    sender, msg1 = ot.base_ot_sender_start(SEED_A, context)
    msg2, chosen = ot.base_ot_receiver(CHOICES, msg1, SEED_B, context)
    return sender.finish(msg2), chosen


PAIRS, CHOSEN = _base_ots()


# -- transpose --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [(64, 8), (128, 64), (5, 3), (70, 9), (1, 1), (200, 1), (8, 64), (0, 8), (3, 0)]
)
def test_transpose_matches_unpackbits(shape: tuple[int, int]) -> None:
    a = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    before = a.copy()
    assert np.array_equal(transpose_bits(a), _naive_transpose(a))
    assert np.array_equal(a, before)  # the input is not touched


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(0, 20), st.integers(0, 2**32 - 1))
def test_transpose_property(rows: int, cols: int, seed: int) -> None:
    a = np.random.default_rng(seed).integers(0, 256, (rows, cols), dtype=np.uint8)
    t = transpose_bits(a)
    assert np.array_equal(t, _naive_transpose(a))
    assert np.array_equal(transpose_bits(t)[:rows], a)


def test_transpose_refuses_other_arrays() -> None:
    with pytest.raises(InvalidParameter):
        transpose_bits(np.zeros((8, 8), dtype=np.uint16))
    with pytest.raises(InvalidParameter):
        transpose_bits(np.zeros(8, dtype=np.uint8))


# -- base OT ---------------------------------------------------------------------------------------------


def test_base_ot_receiver_gets_the_chosen_key() -> None:
    bits = np.unpackbits(np.frombuffer(CHOICES, np.uint8), bitorder="little")
    assert len(PAIRS) == len(CHOSEN) == ot.W
    for (k0, k1), k, c in zip(PAIRS, CHOSEN, bits, strict=True):
        assert k == (k0, k1)[c] and k != (k0, k1)[1 - c]
        assert len(k0) == len(k1) == 16
    assert len({k for p in PAIRS for k in p}) == 2 * ot.W


def test_base_ot_is_bound_to_the_context_and_seeded() -> None:
    again, _ = _base_ots()
    other, _ = _base_ots(b"another session")
    assert again == PAIRS
    assert not {k for p in other for k in p} & {k for p in PAIRS for k in p}


def test_sender_is_single_use_and_repr_is_silent() -> None:
    sender, msg1 = ot.base_ot_sender_start(SEED_A, CTX)
    msg2, _ = ot.base_ot_receiver(CHOICES, msg1, SEED_B, CTX)
    r = repr(sender)
    assert SEED_A.hex() not in r and "finished=False" in r
    sender.finish(msg2)
    with pytest.raises(LocalProtocolError):
        sender.finish(msg2)


@pytest.mark.parametrize("bad", BAD_POINTS)
def test_sender_refuses_bad_points(bad: bytes) -> None:
    sender, msg1 = ot.base_ot_sender_start(SEED_A, CTX)
    msg2, _ = ot.base_ot_receiver(CHOICES, msg1, SEED_B, CTX)
    with pytest.raises(InvalidGroupElement) as e:
        sender.finish(msg2[:64] + bad + msg2[96:])
    assert isinstance(e.value, RemoteError)


@pytest.mark.parametrize("length", [0, 32, 32 * 511, 32 * 512 + 1, 32 * 513])
def test_sender_refuses_wrong_lengths(length: int) -> None:
    sender, _ = ot.base_ot_sender_start(SEED_A, CTX)
    with pytest.raises(InvalidGroupElement):
        sender.finish(bytes(length))


@pytest.mark.parametrize("bad", [*BAD_POINTS, bytes(31), bytes(33)])
def test_receiver_refuses_bad_points(bad: bytes) -> None:
    with pytest.raises(InvalidGroupElement):
        ot.base_ot_receiver(CHOICES, bad, SEED_B, CTX)


def test_local_arguments_are_checked() -> None:
    _, msg1 = ot.base_ot_sender_start(SEED_A, CTX)
    with pytest.raises(InvalidParameter):
        ot.base_ot_receiver(CHOICES[:63], msg1, SEED_B, CTX)
    with pytest.raises(InvalidParameter):
        ot.base_ot_sender_start(SEED_A[:31], CTX)
    with pytest.raises(InvalidParameter):
        ot.base_ot_sender_start(SEED_A, "text")  # type: ignore[arg-type]


# -- PRC, extension, row hash ------------------------------------------------------------------------------


def test_prc_is_aes_of_hash_xor_index_fed_forward() -> None:
    key, h = bytes(range(16)), bytes(range(16, 32))
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    expect = b""
    for j in range(4):
        x = bytes([h[0] ^ j]) + h[1:]
        expect += bytes(a ^ b for a, b in zip(enc.update(x), x, strict=True))
    got = ot.prc(key, np.frombuffer(h, np.uint8).reshape(1, 16))
    assert got.shape == (1, 64) and bytes(got[0]) == expect
    assert ot.prc(key, np.zeros((0, 16), np.uint8)).shape == (0, 64)


def _random_codewords(m: int, seed: int) -> np.ndarray:
    h = np.random.default_rng(seed).integers(0, 256, (m, 16), dtype=np.uint8)
    return ot.prc(bytes(range(16)), h)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_oprf_outputs_agree_exactly_on_the_receivers_codeword(m: int, seed: int) -> None:
    cw = _random_codewords(m, seed)
    u, t = ot.extension_receiver(PAIRS, cw, CTX)
    assert len(u) == ot.u_bytes(m) == 512 * ot.padded_rows(m) // 8 and t.shape == (m, 64)
    q = ot.extension_sender(CHOSEN, CHOICES, u, m, CTX)
    bins = np.arange(m)
    ours = ot.row_hash(t, bins, CTX, 16)
    assert np.array_equal(ot.row_hash(ot.sender_rows(q, bins, cw, CHOICES), bins, CTX, 16), ours)
    if m:
        others = _random_codewords(m, seed + 1)
        theirs = ot.row_hash(ot.sender_rows(q, bins, others, CHOICES), bins, CTX, 16)
        assert not (theirs == ours).all(axis=1).any()
        shifted = ot.row_hash(ot.sender_rows(q, (bins + 1) % m, cw, CHOICES), (bins + 1) % m, CTX, 16)
        assert m == 1 or not (shifted == ours).all(axis=1).any()


def test_q_rows_are_t_xor_codeword_and_s() -> None:
    cw = _random_codewords(77, 5)
    u, t = ot.extension_receiver(PAIRS, cw, CTX)
    q = ot.extension_sender(CHOSEN, CHOICES, u, 77, CTX)
    s = np.frombuffer(CHOICES, np.uint8)
    assert np.array_equal(q, t ^ (cw & s))


@pytest.mark.parametrize("delta", [-1, 1, -64, 64])
def test_extension_sender_refuses_a_wrong_u(delta: int) -> None:
    u, _ = ot.extension_receiver(PAIRS, _random_codewords(100, 1), CTX)
    bad = u + bytes(delta) if delta > 0 else u[:delta]
    with pytest.raises(ot.InvalidOtMessage) as e:
        ot.extension_sender(CHOSEN, CHOICES, bad, 100, CTX)
    assert isinstance(e.value, RemoteError)
    with pytest.raises(ot.InvalidOtMessage):
        ot.extension_sender(CHOSEN, CHOICES, u, 200, CTX)


def test_sender_rows_checks_bins() -> None:
    q = np.zeros((10, 64), np.uint8)
    with pytest.raises(InvalidParameter):
        ot.sender_rows(q, np.array([10]), np.zeros((1, 64), np.uint8), CHOICES)
    with pytest.raises(InvalidParameter):
        ot.sender_rows(q, np.array([0, 1]), np.zeros((1, 64), np.uint8), CHOICES)


def test_row_hash_is_blake2b_of_tweak_and_row() -> None:
    rows = np.random.default_rng(3).integers(0, 256, (3, 64), dtype=np.uint8)
    tweaks = np.array([0, 7, 2**63], dtype=np.uint64)
    got = ot.row_hash(rows, tweaks, CTX, 20)
    key = hashlib.blake2b(CTX, digest_size=32, person=b"bm/ot-core/ctx").digest()
    for r, tw, g in zip(rows, tweaks, got, strict=True):
        h = hashlib.blake2b(int(tw).to_bytes(8, "little") + bytes(r), digest_size=20, key=key,
                            person=b"bm/ot-core/row")  # fmt: skip
        assert bytes(g) == h.digest()
    assert not np.array_equal(ot.row_hash(rows, tweaks + 1, CTX, 20), got)
    assert not np.array_equal(ot.row_hash(rows, tweaks, CTX + b"!", 20), got)
    assert ot.row_hash(rows[:0], tweaks[:0], CTX, 8).shape == (0, 8)
    for bad in (0, 65):
        with pytest.raises(InvalidParameter):
            ot.row_hash(rows, tweaks, CTX, bad)
    with pytest.raises(InvalidParameter):
        ot.row_hash(rows, np.array([-1, 0, 0]), CTX, 16)


# -- known answers ------------------------------------------------------------------------------------------


def test_vectors_match_the_code() -> None:
    sys.path.insert(0, str(Path(__file__).parent / "vectors"))
    from make_ot_core_vectors import build

    assert build() == VECTORS
    assert VECTORS["row_hash_16"] == VECTORS["sender_row_hash_16"]
    assert VECTORS["u_len"] == 512 * 64 // 8


def test_doc_lists_every_label_and_personalisation() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol-ot-core.md").read_text(encoding="utf-8")
    names = [v for k, v in vars(ot).items() if k.startswith(("_LABEL_", "_PERSON_"))]
    assert len(names) == 6
    for name in names:
        assert name.decode() in doc, name


def test_u_layout_byte_by_byte() -> None:
    m = 70  # padded to 128 bits: 16 bytes per row of U
    cw = _random_codewords(m, 9)
    u, t = ot.extension_receiver(PAIRS, cw, CTX)
    assert len(u) == 512 * 16
    ctx = hashlib.blake2b(CTX, digest_size=32, person=b"bm/ot-core/ctx").digest()
    iv = hashlib.blake2b(ctx, digest_size=16, person=b"bm/ot-core/prg").digest()

    def prg(k: bytes) -> bytes:
        return Cipher(algorithms.AES(k), modes.CTR(iv)).encryptor().update(bytes(16))

    bits = np.unpackbits(cw, axis=1, bitorder="little")  # (m, 512): bit j of codeword i
    for j in (0, 1, 7, 8, 300, 511):
        column = np.packbits(np.concatenate([bits[:, j], np.zeros(128 - m, np.uint8)]), bitorder="little")
        k0, k1 = PAIRS[j]
        expect = bytes(a ^ b ^ c for a, b, c in zip(prg(k0), prg(k1), column.tobytes(), strict=True))
        assert u[16 * j : 16 * j + 16] == expect
        stream = np.unpackbits(np.frombuffer(prg(k0), np.uint8), bitorder="little")[:m]
        assert np.array_equal(np.unpackbits(t, axis=1, bitorder="little")[:, j], stream)
