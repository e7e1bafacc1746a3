"""Identity keys, fingerprints and the peers file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from session_support import ALICE, BOB, CAROL, seeded_rng

from blindmatch.errors import InvalidParameter, MalformedFile
from blindmatch.session import Identity, PeerStore, PublicIdentity, fingerprints_match, normalize_fingerprint


def test_generate_is_deterministic_under_an_injected_rng() -> None:
    a = Identity.generate(seeded_rng(b"x"))
    b = Identity.generate(seeded_rng(b"x"))
    assert a.public == b.public and a.seed() == b.seed()
    assert Identity.generate().public != a.public


def test_rfc8032_test_1_public_key() -> None:
    # RFC 8032 section 7.1, TEST 1: secret key -> public key, and the signature of the empty message
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    ident = Identity.from_seed(seed)
    assert ident.public.raw.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert (
        ident.sign(b"").hex().startswith("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155")
    )


def test_save_load_mode_0600(tmp_path: Path) -> None:
    p = tmp_path / "id.pem"
    ALICE.save(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert p.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert Identity.load(p).public == ALICE.public
    with pytest.raises(InvalidParameter):
        ALICE.save(p)  # no silent overwrite
    BOB.save(p, overwrite=True)
    assert Identity.load(p).public == BOB.public
    os.chmod(p, 0o644)
    with pytest.raises(InvalidParameter):
        Identity.load(p)
    assert Identity.load(p, check_permissions=False).public == BOB.public


def test_encrypted_key_file(tmp_path: Path) -> None:
    p = tmp_path / "id.pem"
    ALICE.save(p, passphrase=b"correct horse")
    assert b"ENCRYPTED" in p.read_bytes()
    assert Identity.load(p, passphrase=b"correct horse").public == ALICE.public
    with pytest.raises(MalformedFile):
        Identity.load(p, passphrase=b"wrong")
    with pytest.raises(MalformedFile):
        Identity.load(p)


def test_bad_key_files(tmp_path: Path) -> None:
    p = tmp_path / "bad.pem"
    p.write_bytes(b"not a key")
    p.chmod(0o600)
    with pytest.raises(MalformedFile):
        Identity.load(p)


def test_secret_not_in_repr() -> None:
    assert ALICE.seed().hex() not in repr(ALICE)
    assert ALICE.fingerprint in repr(ALICE)


def test_fingerprint_format_and_comparison() -> None:
    fp = ALICE.fingerprint
    groups = fp.split("-")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    assert fingerprints_match(fp, fp.upper().replace("-", " "))
    assert not fingerprints_match(fp, BOB.fingerprint)
    assert normalize_fingerprint(fp.replace("-", "")) == fp
    with pytest.raises(InvalidParameter):
        normalize_fingerprint("abcd")
    assert len({ALICE.fingerprint, BOB.fingerprint, CAROL.fingerprint}) == 3


def test_public_key_text_roundtrip() -> None:
    text = ALICE.public.to_text()
    assert text.startswith("blindmatch-ed25519:")
    assert PublicIdentity.from_text(" " + text + "\n") == ALICE.public
    for bad in ["", "blindmatch-ed25519:zz", text[:-1], text.upper(), "ssh-ed25519 AAAA"]:
        with pytest.raises(InvalidParameter):
            PublicIdentity.from_text(bad)


def test_verify() -> None:
    sig = ALICE.sign(b"m")
    assert ALICE.public.verify(sig, b"m")
    assert not ALICE.public.verify(sig, b"n") and not BOB.public.verify(sig, b"m")
    assert not ALICE.public.verify(sig[:10], b"m")


def test_peer_store_add_remove_list_lookup(tmp_path: Path) -> None:
    store = PeerStore()
    store.add("lab-b", BOB.public, note="checked by phone")
    store.add("lab-c", CAROL.public.to_text())
    assert [p.name for p in store.list()] == ["lab-b", "lab-c"]
    assert store.get("lab-b").public == BOB.public
    assert store.lookup_key(CAROL.public.raw).name == "lab-c"  # type: ignore[union-attr]
    assert store.lookup_key(ALICE.public) is None
    with pytest.raises(InvalidParameter):
        store.add("lab-b", ALICE.public)  # name taken
    with pytest.raises(InvalidParameter):
        store.add("other", BOB.public)  # key already trusted under another name
    with pytest.raises(InvalidParameter):
        store.add("bad name!", ALICE.public)
    store.add("lab-b", ALICE.public, replace=True)
    assert store.get("lab-b").public == ALICE.public
    store.remove("lab-b")
    assert "lab-b" not in store and len(store) == 1
    with pytest.raises(InvalidParameter):
        store.remove("lab-b")

    p = tmp_path / "peers.json"
    store.add("lab-b", BOB.public, note="n")
    store.save(p)
    again = PeerStore.load(p)
    assert [(x.name, x.public, x.note) for x in again] == [(x.name, x.public, x.note) for x in store]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{",
        '{"format": "other"}',
        '{"format": "blindmatch-peers", "version": 2, "peers": {}}',
        '{"format": "blindmatch-peers", "version": 1, "peers": []}',
        '{"format": "blindmatch-peers", "version": 1, "peers": {"a": {}}}',
        '{"format": "blindmatch-peers", "version": 1, "peers": {"a": {"public_key": "x"}}}',
        "[" * 100000,
    ],
)
def test_malformed_peers_files(text: str) -> None:
    with pytest.raises(MalformedFile):
        PeerStore.from_json(text)


def test_peers_file_fingerprint_must_match() -> None:
    store = PeerStore()
    store.add("lab-b", BOB.public)
    text = store.to_json().replace(BOB.fingerprint, ALICE.fingerprint)
    with pytest.raises(MalformedFile):
        PeerStore.from_json(text)
