"""The cryptographic core of OT-extension PSI (KKRT16), semi-honest, as pure functions over numpy arrays.

.. warning::
   Hazardous materials: every function here is one step of a two-party protocol and is secure only inside
   that protocol, semi-honest, with fresh seeds, keys and code key per session. ``docs/protocol-ot-core.md``
   gives the construction byte by byte, the parameters and their sources.

* Base OT: ``W = 512`` random 1-out-of-2 OTs at once, Chou-Orlandi "simplest OT" (LATINCRYPT 2015) on the
  prime-order subgroup of edwards25519, each key hashed over the whole transcript (session context, ``S``,
  ``R_i``, the index ``i``, the shared point), the fix discussed by Hauck-Loss and Genç-Iovino-Rial (2017).
  The OT *sender* speaks first (``S``); the OT receiver answers with the ``R_i``.
* KKRT 1-out-of-N OT extension (IKNP through a pseudorandom code of width ``W``): the KKRT *receiver* (the
  base-OT sender) sends ``U``; the KKRT *sender* (the base-OT receiver, with choice bits ``s``) gets ``Q``.
* ``row_hash``: BLAKE2b keyed with the session context and tweaked with the bin index (a random oracle, as in
  KKRT's proof), never fixed-key AES (Guo-Katz-Wang-Yu 2020).

Bit order everywhere: bit ``j`` of a byte string is ``(b[j // 8] >> (j % 8)) & 1`` (least significant bit
first, numpy's ``bitorder="little"``): the choice bits ``s``, the 512 bits of a codeword or a row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import nacl.bindings as _nb
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .._derive import derive_key
from ..errors import InvalidParameter, LocalProtocolError, RemoteProtocolError
from ._bitmatrix import pad_rows, transpose_bits
from ._ed25519 import base_mul, mul_each, mul_many, reduce64, scalar_bytes
from ._errors import InvalidGroupElement

__all__ = [
    "CHOICE_BYTES",
    "KEY_BYTES",
    "POINT_BYTES",
    "WIDTH_BYTES",
    "BaseOtSender",
    "InvalidOtMessage",
    "W",
    "base_ot_receiver",
    "base_ot_sender_start",
    "extension_receiver",
    "extension_sender",
    "padded_rows",
    "prc",
    "row_hash",
    "sender_rows",
    "transpose_bits",
    "u_bytes",
]

#: Width of the pseudorandom code, in bits: the number of base OTs and the length of each OPRF row.
W = 512
WIDTH_BYTES = W // 8
CHOICE_BYTES = W // 8
KEY_BYTES = 16
POINT_BYTES = 32
MAX_CONTEXT = 1 << 16

_LABEL_SENDER = b"ot-core/base/sender-a"
_LABEL_RECEIVER = b"ot-core/base/receiver-b"
_PERSON_CTX = b"bm/ot-core/ctx"
_PERSON_KEY = b"bm/ot-core/bkey"
_PERSON_IV = b"bm/ot-core/prg"
_PERSON_ROW = b"bm/ot-core/row"
_AES_CHUNK = 1 << 16
_HASH_CHUNK = 1 << 16


class InvalidOtMessage(RemoteProtocolError):
    """A peer's OT-extension message (the matrix ``U``) has the wrong size."""


# -- checks and small helpers -------------------------------------------------------------------------------


def _context_digest(context: bytes) -> bytes:
    """BLAKE2b-256 of the session context (personalised), the form every derivation here takes it in."""
    if not isinstance(context, bytes) or len(context) > MAX_CONTEXT:
        raise InvalidParameter(f"an OT context is bytes of at most {MAX_CONTEXT} bytes")
    return hashlib.blake2b(context, digest_size=32, person=_PERSON_CTX).digest()


def _check_choices(choices: bytes) -> np.ndarray:
    if not isinstance(choices, bytes) or len(choices) != CHOICE_BYTES:
        raise InvalidParameter(f"choice bits are {CHOICE_BYTES} bytes")
    return np.frombuffer(choices, dtype=np.uint8)


def _check_keys(keys: Sequence[bytes], what: str) -> None:
    if not isinstance(keys, list) or len(keys) != W:
        raise InvalidParameter(f"{what}: a list of {W} keys")
    if not all(isinstance(k, bytes) and len(k) == KEY_BYTES for k in keys):
        raise InvalidParameter(f"{what}: {W} keys of {KEY_BYTES} bytes")


def _check_matrix(a: np.ndarray, cols: int, what: str) -> int:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != cols:
        raise InvalidParameter(f"{what} is an (n, {cols}) uint8 array")
    return int(a.shape[0])


def _check_indices(a: np.ndarray, n: int, bound: int, what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.shape[0] != n or a.dtype.kind not in "iu":
        raise InvalidParameter(f"{what} is a 1-dimensional integer array of {n} entries")
    if n and (int(a.min()) < 0 or int(a.max()) >= bound):
        raise InvalidParameter(f"{what} out of range")
    return a


def _check_count(m: int) -> int:
    if isinstance(m, bool) or not isinstance(m, int) or m < 0:
        raise InvalidParameter("m is a non-negative integer")
    return m


def padded_rows(m: int) -> int:
    """``m`` rounded up to a multiple of 64: the number of bits in each row of ``U``."""
    return -(-_check_count(m) // 64) * 64


def u_bytes(m: int) -> int:
    """The exact size of the matrix ``U`` for ``m`` OPRF instances: ``W * padded_rows(m) / 8`` bytes."""
    return W * padded_rows(m) // 8


def _seed_scalars(seed: bytes, label: bytes, ctx: bytes, count: int) -> list[bytes]:
    """``count`` uniform nonzero scalars from ``seed`` (64-byte wide reduction each)."""
    key = derive_key(seed, label, 0, context=ctx)
    raw = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(bytes(64 * count))
    out = [scalar_bytes(reduce64(raw[i : i + 64])) for i in range(0, 64 * count, 64)]
    if any(k == bytes(32) for k in out):  # probability ~count * 2^-252
        raise InvalidParameter("a derived scalar is zero")
    return out


def _ot_key(ctx: bytes, s: bytes, r: bytes, i: int, p: bytes) -> bytes:
    """``BLAKE2b-128(person, ctx || S || R_i || u32be(i) || P)``."""
    h = hashlib.blake2b(digest_size=KEY_BYTES, person=_PERSON_KEY)
    h.update(ctx + s + r + i.to_bytes(4, "big") + p)
    return h.digest()


# -- base OT (Chou-Orlandi, with the transcript in every key) ------------------------------------------------


class BaseOtSender:
    """The base-OT sender between its two steps: holds the secret scalar ``a``; single use.

    Make one with :func:`base_ot_sender_start`; :meth:`finish` takes the receiver's message once.
    """

    __slots__ = ("_a", "_ctx", "_done", "_s")

    def __init__(self, a: bytes, s: bytes, ctx: bytes) -> None:
        self._a, self._s, self._ctx, self._done = a, s, ctx, False

    def __repr__(self) -> str:
        return f"BaseOtSender(W={W}, finished={self._done})"

    def finish(self, msg2: bytes) -> list[tuple[bytes, bytes]]:
        """The ``W`` key pairs ``(k0_i, k1_i)`` from the receiver's ``msg2`` (``W`` points of 32 bytes).

        Raises :class:`InvalidGroupElement` for a message of the wrong length or any point that is
        non-canonical, of small order, off the prime-order subgroup or the identity.
        """
        if self._done:
            raise LocalProtocolError("a base-OT sender finishes once")
        self._done = True
        if not isinstance(msg2, bytes) or len(msg2) != W * POINT_BYTES:
            raise InvalidGroupElement(f"base OT message 2 is not {W} points of {POINT_BYTES} bytes")
        rs = [msg2[i : i + POINT_BYTES] for i in range(0, len(msg2), POINT_BYTES)]
        shared = mul_many(self._a, rs, "base OT message 2")
        t = mul_each([self._a], [self._s], "base OT sender point")[0]  # a * S
        sub = _nb.crypto_core_ed25519_sub
        ctx, s = self._ctx, self._s
        out = [
            (_ot_key(ctx, s, r, i, p), _ot_key(ctx, s, r, i, sub(p, t)))
            for i, (r, p) in enumerate(zip(rs, shared, strict=True))
        ]
        self._a = b""
        return out


def base_ot_sender_start(seed: bytes, context: bytes) -> tuple[BaseOtSender, bytes]:
    """The base-OT sender's first step: ``(sender, msg1)`` with ``msg1 = S = a*G`` (32 bytes).

    ``a`` is derived from ``seed`` (32 bytes, label ``ot-core/base/sender-a``) and ``context``.
    """
    ctx = _context_digest(context)
    a = _seed_scalars(seed, _LABEL_SENDER, ctx, 1)[0]
    s = base_mul(a)
    return BaseOtSender(a, s, ctx), s


def base_ot_receiver(choices: bytes, msg1: bytes, seed: bytes, context: bytes) -> tuple[bytes, list[bytes]]:
    """The base-OT receiver: ``(msg2, keys)`` for the ``W`` choice bits in ``choices`` (``W/8`` bytes).

    Choice ``i`` is bit ``i % 8`` (least significant first) of byte ``i // 8``. ``msg2`` is ``R_0 || ... ||
    R_{W-1}`` with ``R_i = c_i*S + b_i*G``; ``keys[i]`` is the sender's ``k_{c_i}``. Every ``R_i`` is computed
    both ways (``b_i*G`` and ``b_i*G + S``), so the work does not depend on the choices. Raises
    :class:`InvalidGroupElement` when ``msg1`` is not a valid point of the prime-order subgroup.
    """
    ctx = _context_digest(context)
    bits = np.unpackbits(_check_choices(choices), bitorder="little").tolist()
    if not isinstance(msg1, bytes) or len(msg1) != POINT_BYTES:
        raise InvalidGroupElement(f"base OT message 1 is not {POINT_BYTES} bytes")
    bs = _seed_scalars(seed, _LABEL_RECEIVER, ctx, W)
    shared = mul_each(bs, [msg1] * W, "base OT message 1")  # b_i * S; refuses a bad S
    add = _nb.crypto_core_ed25519_add
    rs = []
    for b, c in zip(bs, bits, strict=True):
        bg = base_mul(b)
        rs.append((bg, add(bg, msg1))[c])
    keys = [_ot_key(ctx, msg1, r, i, p) for i, (r, p) in enumerate(zip(rs, shared, strict=True))]
    return b"".join(rs), keys


# -- PRG, PRC -----------------------------------------------------------------------------------------------


def _prg_rows(keys: Sequence[bytes], nbytes: int, iv: bytes) -> np.ndarray:
    """``(len(keys), nbytes)`` uint8: row ``j`` is the AES-128-CTR keystream under ``keys[j]`` from ``iv``."""
    rows = len(keys)
    flat = np.empty(rows * nbytes + 16, dtype=np.uint8)  # update_into wants 15 bytes of slack
    if nbytes:
        dst = memoryview(flat)  # type: ignore[arg-type]
        zeros = bytes(nbytes)
        for j, k in enumerate(keys):
            enc = Cipher(algorithms.AES(k), modes.CTR(iv)).encryptor()
            enc.update_into(zeros, dst[j * nbytes : (j + 1) * nbytes + 15])
    return flat[: rows * nbytes].reshape(rows, nbytes)


def _aes_ecb(key: bytes, data: np.ndarray) -> np.ndarray:
    """AES-128-ECB of a flat uint8 array (a multiple of 16 bytes), 64 KiB at a time with ``update_into``."""
    n = data.shape[0]
    out = np.empty(n + 16, dtype=np.uint8)
    src, dst = memoryview(data), memoryview(out)  # type: ignore[arg-type]
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - a PRF on distinct blocks
    for off in range(0, n, _AES_CHUNK):
        end = min(n, off + _AES_CHUNK)
        enc.update_into(src[off:end], dst[off : end + 15])
    return out[:n]


def prc(code_key: bytes, item_hashes: np.ndarray) -> np.ndarray:
    """The pseudorandom code: ``(m, 16)`` item hashes in, ``(m, 64)`` codewords out.

    Codeword block ``j`` (``j = 0..3``, bytes ``16j..16j+15``) is ``AES_k(x_j) xor x_j`` with
    ``x_j = h xor j`` (``j`` in the first byte, least significant): a PRF of ``h`` under the secret-until-
    the-inputs-are-fixed code key ``k`` (16 bytes, fresh per session).
    """
    if not isinstance(code_key, bytes) or len(code_key) != KEY_BYTES:
        raise InvalidParameter(f"a code key is {KEY_BYTES} bytes")
    m = _check_matrix(item_hashes, 16, "item_hashes")
    words = np.ascontiguousarray(item_hashes).view("<u8")  # (m, 2): byte 0 is the low byte of word 0
    x = np.repeat(words[:, None, :], 4, axis=1)
    x[:, :, 0] ^= np.arange(4, dtype="<u8")
    flat = x.view(np.uint8).reshape(-1)
    out = _aes_ecb(code_key, flat)
    out ^= flat
    return out.reshape(m, WIDTH_BYTES)


# -- OT extension --------------------------------------------------------------------------------------------


def _iv(ctx: bytes) -> bytes:
    return hashlib.blake2b(ctx, digest_size=16, person=_PERSON_IV).digest()


def extension_receiver(
    pairs: list[tuple[bytes, bytes]], codewords: np.ndarray, context: bytes
) -> tuple[bytes, np.ndarray]:
    """The KKRT receiver (the base-OT *sender*): ``(U, T)`` for ``m`` codewords (``(m, 64)`` uint8).

    With ``M = padded_rows(m)`` (``m`` rounded up to 64) and ``L = M / 8``, ``U`` is ``W`` rows of ``L``
    bytes, row ``j`` first: ``U_j = PRG(k0_j) xor PRG(k1_j) xor C^j`` where ``C^j`` holds bit ``j`` of every
    codeword (bit ``i`` of ``U_j`` is codeword ``i``'s; the ``M - m`` padding codewords are zero). ``T`` is
    ``(m, 64)``: row ``i`` holds bit ``i`` of every ``PRG(k0_j)``.
    """
    ctx = _context_digest(context)
    if not isinstance(pairs, list) or not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise InvalidParameter(f"pairs: a list of {W} key pairs (k0, k1)")
    k0s, k1s = [p[0] for p in pairs], [p[1] for p in pairs]
    _check_keys(k0s, "pairs")
    _check_keys(k1s, "pairs")
    m = _check_matrix(codewords, WIDTH_BYTES, "codewords")
    rows = padded_rows(m)
    iv = _iv(ctx)
    t0 = _prg_rows(k0s, rows // 8, iv)
    u = _prg_rows(k1s, rows // 8, iv)
    u ^= t0
    u ^= transpose_bits(pad_rows(codewords, rows))
    t = transpose_bits(t0)
    return u.tobytes(), np.ascontiguousarray(t[:m])


def extension_sender(keys: list[bytes], choices: bytes, u: bytes, m: int, context: bytes) -> np.ndarray:
    """The KKRT sender (the base-OT *receiver* with choice bits ``s``): ``Q``, ``(m, 64)`` uint8.

    ``q_i = t_i xor (c_i AND s)``. ``u`` must be exactly :func:`u_bytes` ``(m)`` bytes, else
    :class:`InvalidOtMessage`.
    """
    ctx = _context_digest(context)
    _check_keys(keys, "keys")
    s = np.unpackbits(_check_choices(choices), bitorder="little")
    rows = padded_rows(m)
    if not isinstance(u, bytes) or len(u) != u_bytes(m):
        raise InvalidOtMessage(f"the OT-extension matrix U is not {W} x {rows} bits")
    qt = _prg_rows(keys, rows // 8, _iv(ctx))
    mask = (s * np.uint8(0xFF))[:, None]
    qt ^= np.frombuffer(u, dtype=np.uint8).reshape(W, rows // 8) & mask
    return np.ascontiguousarray(transpose_bits(qt)[:m])


def sender_rows(q: np.ndarray, bins: np.ndarray, codewords: np.ndarray, choices: bytes) -> np.ndarray:
    """The KKRT sender's rows for its items: ``q[bins[i]] xor (codewords[i] AND s)``, ``(n, 64)`` uint8."""
    m = _check_matrix(q, WIDTH_BYTES, "q")
    n = _check_matrix(codewords, WIDTH_BYTES, "codewords")
    _check_indices(bins, n, m, "bins")
    s = _check_choices(choices)
    out: np.ndarray = np.take(q, bins, axis=0)  # a gather: much faster than q[bins] for rows
    words = out.view("<u8")
    words ^= np.ascontiguousarray(codewords).view("<u8") & s.view("<u8")
    return out


def row_hash(rows: np.ndarray, tweaks: np.ndarray, context: bytes, out_bytes: int) -> np.ndarray:
    """The OPRF output of each row: ``(n, 64)`` rows and ``n`` tweaks (bin indices) in, ``(n, out_bytes)``.

    ``BLAKE2b(digest_size=out_bytes, key=ctx, person="bm/ot-core/row")`` of ``u64le(tweak) || row`` (72
    bytes: one compression after the key block, which is hashed once and copied), where ``ctx`` is the
    BLAKE2b-256 of the session context. Modelled as a random oracle, as KKRT16's proof does.
    """
    ctx = _context_digest(context)
    n = _check_matrix(rows, WIDTH_BYTES, "rows")
    _check_indices(tweaks, n, 1 << 64, "tweaks")
    if isinstance(out_bytes, bool) or not isinstance(out_bytes, int) or not 1 <= out_bytes <= 64:
        raise InvalidParameter("out_bytes is an integer in [1, 64]")
    copy = hashlib.blake2b(digest_size=out_bytes, key=ctx, person=_PERSON_ROW).copy
    out = np.empty((n, out_bytes), dtype=np.uint8)
    step = 8 + WIDTH_BYTES
    for start in range(0, n, _HASH_CHUNK):  # in chunks: a few MiB of scratch, not 3 copies of all rows
        end = min(n, start + _HASH_CHUNK)
        buf = np.empty((end - start, step), dtype=np.uint8)
        buf[:, :8] = tweaks[start:end].astype("<u8").view(np.uint8).reshape(-1, 8)
        buf[:, 8:] = rows[start:end]
        data = buf.tobytes()
        digests: list[bytes] = []
        append = digests.append
        for off in range(0, len(data), step):  # a plain loop: the fastest form measured
            h = copy()
            h.update(data[off : off + step])
            append(h.digest())
        out[start:end] = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, out_bytes)
    return out
