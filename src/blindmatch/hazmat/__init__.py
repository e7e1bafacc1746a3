"""Hazardous materials: the group layer under :mod:`blindmatch.psi`.

.. warning::
   These are low-level primitives. Used on their own they are easy to misuse (reused scalars link sessions,
   unvalidated peer elements break the protocol's guarantees). Use :mod:`blindmatch.psi` instead; the
   interfaces here may change between releases.

Contents:

* :func:`expand_message_xmd_sha512` -- RFC 9380 section 5.3.1 with SHA-512;
* the suite ``blindmatch-psi-v1/x25519-ell2ro-sha512``: hash to the prime-order subgroup of Curve25519
  (two libsodium Elligator 2 maps added on edwards25519, as in RFC 9380's random-oracle encoding, but with
  libsodium's sign convention, so it is *not* byte-for-byte an RFC suite), converted to a Montgomery u
  coordinate with one batched inversion, then blinded with X25519;
* validation of elements received from a peer.
"""

from __future__ import annotations

from .group import (
    ELEMENT_BYTES,
    FIELD_P,
    SMALL_ORDER_ENCODINGS,
    SUITE_ID,
    InvalidGroupElement,
    blind,
    blind_and_hash,
    clamp_scalar,
    edwards_to_montgomery,
    hash_to_edwards,
    hash_to_group,
    hash_to_group_and_blind,
    new_scalar,
    validate_peer_elements,
)
from .xmd import expand_message_xmd_sha512

__all__ = [
    "ELEMENT_BYTES",
    "FIELD_P",
    "SMALL_ORDER_ENCODINGS",
    "SUITE_ID",
    "InvalidGroupElement",
    "blind",
    "blind_and_hash",
    "clamp_scalar",
    "edwards_to_montgomery",
    "expand_message_xmd_sha512",
    "hash_to_edwards",
    "hash_to_group",
    "hash_to_group_and_blind",
    "new_scalar",
    "validate_peer_elements",
]
