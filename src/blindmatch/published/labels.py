"""Labels: the context a publisher attaches to each item, padded to a fixed size and sealed so that only a
querier who evaluated the item can open it.

For an item ``y`` with OPRF output ``o = finalize(y, u(k*H(y)))`` (64 bytes) in the file ``file_id``::

    key || nonce = SHA-512("blindmatch-published-v1 label key" || file_id || o)[:44]
    sealed       = ChaCha20-Poly1305(key, nonce).encrypt(pad(label), aad=file_id || kind)

``pad(label)`` is ``len(label)`` (2 bytes, big-endian) || the canonical JSON of the label || zero bytes, to
exactly ``label_bytes``; labels are JSON objects of short strings and integers. A delta file has another
``file_id``, so republishing an item never reuses a (key, nonce) pair.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .._strictjson import object_without_duplicates
from ..errors import InvalidParameter
from ..session._canonjson import canonical_json
from .errors import MalformedPublishedFile

__all__ = ["AEAD_TAG_BYTES", "MAX_LABEL_BYTES", "Label", "check_label", "open_label", "seal_label"]

Label = dict[str, str | int]
AEAD_TAG_BYTES = 16
MAX_LABEL_BYTES = 4096
_KEY_LABEL = b"blindmatch-published-v1 label key"


def check_label(label: Mapping[str, Any], label_bytes: int) -> bytes:
    """The canonical JSON of ``label`` after checking it: an object of at most 16 members, keys of 1 to 32
    characters ``[a-z0-9_-]``, values strings of at most 256 printable characters or integers, fitting
    ``label_bytes - 2``."""
    if not isinstance(label, Mapping) or len(label) > 16:
        raise InvalidParameter("a label is an object of at most 16 members")
    for key, value in label.items():
        if not isinstance(key, str) or not 0 < len(key) <= 32 or not all(c in _KEY_CHARS for c in key):
            raise InvalidParameter("label keys are 1 to 32 characters of a-z, 0-9, '_' and '-'")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidParameter(f"label member {key!r}: a string or an integer")
        if isinstance(value, str) and (len(value) > 256 or not value.isprintable()):
            raise InvalidParameter(
                f"label member {key!r}: at most 256 printable characters (no control or bidi characters)"
            )
    body = canonical_json(dict(label))
    if len(body) + 2 > label_bytes:
        raise InvalidParameter(f"a label of {len(body)} bytes does not fit the file's {label_bytes - 2}")
    return body


_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _key_nonce(file_id: bytes, output: bytes) -> tuple[bytes, bytes]:
    d = hashlib.sha512(_KEY_LABEL + file_id + output).digest()
    return d[:32], d[32:44]


def seal_label(body: bytes, label_bytes: int, file_id: bytes, kind: str, output: bytes) -> bytes:
    """The sealed label (``label_bytes + 16`` bytes) of ``body`` (from :func:`check_label`)."""
    padded = len(body).to_bytes(2, "big") + body + bytes(label_bytes - 2 - len(body))
    key, nonce = _key_nonce(file_id, output)
    return ChaCha20Poly1305(key).encrypt(nonce, padded, file_id + kind.encode("ascii"))


def open_label(sealed: bytes, file_id: bytes, kind: str, output: bytes) -> Label:
    """Open a sealed label with the item's OPRF output; a label that does not open or parse raises
    :class:`MalformedPublishedFile` (a matching tag whose label fails is a forged or damaged file)."""
    key, nonce = _key_nonce(file_id, output)
    try:
        padded = ChaCha20Poly1305(key).decrypt(nonce, sealed, file_id + kind.encode("ascii"))
    except InvalidTag:
        raise MalformedPublishedFile(
            "a matching item's label does not open (a damaged or forged file)"
        ) from None
    n = int.from_bytes(padded[:2], "big")
    if n > len(padded) - 2 or any(padded[2 + n :]):
        raise MalformedPublishedFile("a label's padding is malformed")
    try:
        doc = json.loads(padded[2 : 2 + n].decode("ascii"), object_pairs_hook=object_without_duplicates)
        check_label(doc, len(padded))
    except (ValueError, InvalidParameter, UnicodeDecodeError, RecursionError):
        raise MalformedPublishedFile("a label is not a well-formed label object") from None
    if canonical_json(doc) != padded[2 : 2 + n]:
        raise MalformedPublishedFile("a label is not in canonical JSON")
    return dict(doc)
