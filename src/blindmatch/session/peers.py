"""The trust store: a peers file mapping names to public identity keys.

File format (JSON, UTF-8, written with sorted keys)::

    {"format": "blindmatch-peers", "version": 1,
     "peers": {"lab-b": {"public_key": "blindmatch-ed25519:<64 hex>", "fingerprint": "abcd-...",
                         "note": "checked by phone with J. Doe 2026-11-20"}}}

``fingerprint`` is written for people reading the file; on load it must agree with the key. Names are
1-64 characters of ``A-Z a-z 0-9 . _ -``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidParameter, MalformedFile
from .identity import PublicIdentity

__all__ = ["Peer", "PeerStore"]

_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FORMAT = "blindmatch-peers"
_VERSION = 1


def check_peer_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidParameter("a peer name is 1-64 characters of A-Z a-z 0-9 . _ -")
    return name


@dataclass(frozen=True)
class Peer:
    """A trusted peer: a local name for a public key, and an optional note."""

    name: str
    public: PublicIdentity
    note: str = ""

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint


class PeerStore:
    """Names to public keys; each name and each key appears at most once."""

    def __init__(self, peers: list[Peer] | None = None) -> None:
        self._by_name: dict[str, Peer] = {}
        for p in peers or []:
            self.add(p.name, p.public, note=p.note)

    def add(
        self, name: str, public: PublicIdentity | bytes | str, *, note: str = "", replace: bool = False
    ) -> Peer:
        """Trust ``public`` under ``name`` (a key object, 32 raw bytes or its text form)."""
        check_peer_name(name)
        if isinstance(public, str):
            public = PublicIdentity.from_text(public)
        elif isinstance(public, bytes | bytearray):
            public = PublicIdentity(bytes(public))
        elif not isinstance(public, PublicIdentity):
            raise TypeError("public must be a PublicIdentity, 32 bytes or the key's text form")
        if not public.is_valid:
            raise InvalidParameter("not a usable Ed25519 public key (small order, or not a canonical point)")
        if not isinstance(note, str) or len(note) > 1000 or any(ord(c) < 32 for c in note):
            raise InvalidParameter("a note is one line of at most 1000 characters")
        if name in self._by_name and not replace:
            raise InvalidParameter(f"peer {name!r} exists already (pass replace=True)")
        other = self.lookup_key(public)
        if other is not None and other.name != name:
            raise InvalidParameter(f"that key is already trusted as {other.name!r}")
        peer = Peer(name, public, note)
        self._by_name[name] = peer
        return peer

    def remove(self, name: str) -> Peer:
        try:
            return self._by_name.pop(name)
        except KeyError:
            raise InvalidParameter(f"no peer named {name!r}") from None

    def get(self, name: str) -> Peer:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidParameter(f"no peer named {name!r}") from None

    def lookup_key(self, public: PublicIdentity | bytes) -> Peer | None:
        """The peer trusted with this key, or ``None``."""
        raw = public.raw if isinstance(public, PublicIdentity) else bytes(public)
        for peer in self._by_name.values():
            if peer.public.raw == raw:
                return peer
        return None

    def list(self) -> list[Peer]:
        """All peers, sorted by name."""
        return [self._by_name[n] for n in sorted(self._by_name)]

    def __iter__(self) -> Iterator[Peer]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def to_json(self) -> str:
        doc = {
            "format": _FORMAT,
            "version": _VERSION,
            "peers": {
                p.name: {"public_key": p.public.to_text(), "fingerprint": p.fingerprint, "note": p.note}
                for p in self.list()
            },
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> PeerStore:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise MalformedFile(f"peers file is not JSON ({type(exc).__name__})") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise MalformedFile("not a blindmatch peers file")
        if doc.get("version") != _VERSION:
            raise MalformedFile("unsupported peers file version")
        entries = doc.get("peers")
        if not isinstance(entries, dict):
            raise MalformedFile("peers file: 'peers' must be an object")
        store = cls()
        for name, entry in entries.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
                raise MalformedFile("peers file: each peer needs a 'public_key' string")
            note = entry.get("note", "")
            try:
                public = PublicIdentity.from_text(entry["public_key"])
                fp = entry.get("fingerprint")
                if fp is not None and fp != public.fingerprint:
                    raise MalformedFile(f"peers file: fingerprint of {name!r} does not match its key")
                store.add(name, public, note=note if isinstance(note, str) else "")
            except InvalidParameter as exc:
                raise MalformedFile(f"peers file: {exc}") from None
        return store

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the store atomically (temporary file + rename)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PeerStore:
        """Read a peers file; a missing file raises ``FileNotFoundError``."""
        return cls.from_json(Path(path).read_bytes())
