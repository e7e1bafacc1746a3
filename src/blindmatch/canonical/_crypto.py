"""Rule for ``crypto-address`` (canon version 2): Bitcoin and EVM addresses, checksums verified.

- Bitcoin base58check (P2PKH and P2SH, mainnet and testnet) through ``base58``: the checksum is verified,
  the version byte must be one of the four, the payload 20 bytes. Canonical: ``btc:`` + the address as
  ``base58`` re-encodes it.
- Bitcoin segwit (``bc1``/``tb1``) through ``bech32m`` (the BIP-173/BIP-350 reference code): witness
  version 0 needs a bech32 checksum, versions 1 to 16 a bech32m one (BIP-350). Canonical: ``btc:`` + the
  lowercase address.
- EVM (``0x`` + 40 hex digits), one namespace for every EVM chain (the same key controls the same address
  on all of them): a mixed-case address must carry a valid EIP-55 checksum (Keccak-256 from
  ``pycryptodome``; ``hashlib.sha3_256`` is the NIST variant, a different function); all-lowercase and
  all-uppercase hex carry none and are accepted. Canonical: ``evm:0x`` + lowercase hex.

A canonical form is accepted as input (``btc:``/``evm:``, any case), so the rule is idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

import base58
import bech32m
from Crypto.Hash import keccak

from ..errors import InvalidIndicator

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["crypto_address", "eip55_checksum"]

KIND = "crypto-address"
MAX_INPUT = 256
# version byte -> network: P2PKH and P2SH, mainnet ("1...", "3...") and testnet ("m/n...", "2...")
_BASE58_VERSIONS = frozenset({0x00, 0x05, 0x6F, 0xC4})
_EVM = re.compile(r"0x([0-9a-fA-F]{40})")
_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]{1,60}")
_SEGWIT_HRPS = ("bc", "tb")


def _fail(reason: str) -> InvalidIndicator:
    return InvalidIndicator(KIND, reason)


def eip55_checksum(hex40: str) -> str:
    """The EIP-55 spelling of 40 hex digits (no ``0x``): a letter is uppercase when the matching nibble of
    Keccak-256 of the lowercase hex text is 8 or more."""
    lower = hex40.lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "".join(c.upper() if c > "9" and h >= "8" else c for c, h in zip(lower, digest[:40], strict=True))


def _evm(hex40: str) -> str:
    lower = hex40.lower()
    if hex40 != lower and hex40 != hex40.upper() and eip55_checksum(hex40) != hex40:
        raise _fail("EVM address: mixed case but not a valid EIP-55 checksum")
    return "evm:0x" + lower


def _segwit(addr: str) -> str | None:
    """``btc:`` + the lowercase address for a valid segwit address, None if it has no segwit prefix."""
    lower = addr.lower()
    hrp = lower[:2]
    if hrp not in _SEGWIT_HRPS or lower[2:3] != "1":
        return None
    try:
        bech32m.decode(hrp, addr)
    except (ValueError, IndexError):
        raise _fail("segwit address: bad checksum, encoding or witness program (BIP-173/BIP-350)") from None
    return "btc:" + lower


def _base58(addr: str) -> str:
    if _BASE58.fullmatch(addr) is None:
        raise _fail("not a Bitcoin or EVM address")
    try:
        payload = base58.b58decode_check(addr)
    except ValueError:
        raise _fail("base58 address: bad checksum") from None
    if len(payload) != 21 or payload[0] not in _BASE58_VERSIONS:
        raise _fail("base58 address: not P2PKH or P2SH (mainnet or testnet)")
    # base58 text is a bijection with the bytes here, but re-encoding makes that a fact of the output
    return "btc:" + base58.b58encode_check(payload).decode("ascii")


def crypto_address(value: str, _opts: Options) -> str:
    """``crypto-address``: ``btc:<address>`` (base58check or lowercase bech32/bech32m) or
    ``evm:0x<40 lowercase hex>``, checksums verified."""
    if len(value) > MAX_INPUT:
        raise _fail("too long")
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
        if not value.isascii():
            raise _fail("not ASCII")
    addr = value.strip()
    family = addr[:4].lower()
    if family in ("btc:", "evm:"):
        addr = addr[4:]
    m = _EVM.fullmatch(addr)
    if m is not None:
        if family == "btc:":
            raise _fail("'btc:' prefix on an EVM address")
        return _evm(m.group(1))
    if family == "evm:":
        raise _fail("EVM address must be '0x' and 40 hex digits")
    out = _segwit(addr)
    return out if out is not None else _base58(addr)
