"""``keygen``, ``fingerprint`` and ``peers add|list|remove``: identities and the trust store."""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path
from typing import TypeAlias

from .._fileio import atomic_write
from ..errors import InvalidParameter
from ..session import Identity, PublicIdentity, fingerprints_match, normalize_fingerprint
from ._common import Messages
from ._passphrase import PASSPHRASE_ENV, get_passphrase
from ._session_io import load_identity, load_peers
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    k = sub.add_parser(
        "keygen",
        parents=[common],
        help="make an identity key (or a shared token key)",
        description="Write a new Ed25519 identity key (PEM, mode 0600) and its public key to FILE.pub, "
        "and print the public key and its fingerprint. With --token, write a random 32-byte token key in "
        "hex instead (for `token` and `bloom`).",
    )
    k.add_argument("file", help="where to write the private key")
    k.add_argument("--token", action="store_true", help="make a shared token key (hex) instead")
    k.add_argument("--force", action="store_true", help="replace an existing file")
    k.add_argument("--encrypt", action="store_true",
                   help=f"encrypt the identity key with a passphrase: from ${PASSPHRASE_ENV} if set, else "
                   "typed twice at a prompt (on a terminal only; else exit 5)")  # fmt: skip
    k.set_defaults(func=run_keygen)

    f = sub.add_parser(
        "fingerprint",
        parents=[common],
        help="print the fingerprint of an identity or public key",
        description="Print the fingerprint to read aloud and compare before trusting a key.",
    )
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("--identity", metavar="FILE", help="our identity key file")
    src.add_argument("--public", metavar="KEY", help="a public key (blindmatch-ed25519:...)")
    src.add_argument("--public-file", metavar="FILE", help="a file holding a public key (e.g. FILE.pub)")
    f.add_argument("--json", action="store_true", help="print a JSON object (public key, fingerprint)")
    f.set_defaults(func=run_fingerprint)

    p = sub.add_parser("peers", parents=[common], help="manage the trust store (peers file)")
    p.set_defaults(func=lambda args: _usage(p))
    psub = p.add_subparsers(dest="peers_command", metavar="ACTION")
    pc = argparse.ArgumentParser(add_help=False, parents=[common])
    pc.add_argument("--peers", default="peers.json", metavar="FILE", help="trust store (default: peers.json)")

    a = psub.add_parser("add", parents=[pc], help="trust a peer's public key under a name")
    a.add_argument("name", help="local name for the peer (A-Z a-z 0-9 . _ -, up to 64)")
    a.add_argument("public", nargs="?", help="the public key (blindmatch-ed25519:...)")
    a.add_argument("--public-file", metavar="FILE", help="read the public key from a file instead")
    a.add_argument("--fingerprint", metavar="FP",
                   help="the fingerprint the peer read to you; the key is refused if it differs")  # fmt: skip
    a.add_argument("--note", default="", help="e.g. how and when the fingerprint was checked")
    a.add_argument("--replace", action="store_true", help="replace an existing peer of that name")
    a.set_defaults(func=run_peers_add)
    ls = psub.add_parser("list", parents=[pc], help="list trusted peers")
    ls.add_argument("--json", action="store_true", help="a JSON list (name, public key, fingerprint, note)")
    ls.set_defaults(func=run_peers_list)
    rm = psub.add_parser("remove", parents=[pc], help="stop trusting a peer")
    rm.add_argument("name")
    rm.set_defaults(func=run_peers_remove)


def _usage(p: argparse.ArgumentParser) -> int:
    raise CliError(ExitCode.USAGE, f"choose an action: {p.prog} add|list|remove (see --help)")


def run_keygen(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.exists() and not args.force:
        raise CliError(ExitCode.LOCAL, f"{path} exists already (use --force to replace it)")
    if args.token and args.encrypt:
        raise CliError(ExitCode.USAGE, "--encrypt is for identity keys, not --token")
    if args.token:
        atomic_write(path, (secrets.token_hex(32) + "\n").encode(), mode=0o600)
        print(f"wrote a 32-byte token key to {path} (mode 600): share it only with the group that uses it")
        return ExitCode.OK
    passphrase = get_passphrase(str(path), new=True) if args.encrypt else None
    ident = Identity.generate()
    if args.force:
        path.unlink(missing_ok=True)
    try:
        ident.save(path, passphrase)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot write {path}: {exc.strerror or exc}") from None
    pub = path.with_name(path.name + ".pub")
    atomic_write(pub, (ident.public.to_text() + "\n").encode(), mode=0o644)
    how = "mode 600, encrypted with the passphrase" if passphrase else "mode 600, keep it secret"
    print(f"identity key: {path} ({how})")
    print(f"public key:   {pub}")
    print(ident.public.to_text())
    print(f"fingerprint:  {ident.fingerprint}")
    return ExitCode.OK


def _read_public(text: str | None, file: str | None) -> PublicIdentity:
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:
            raise CliError(ExitCode.LOCAL, f"cannot read {file}: {exc.strerror or exc}") from None
    if not text:
        raise CliError(ExitCode.USAGE, "give the public key, or --public-file")
    try:
        return PublicIdentity.from_text(text.strip())
    except (InvalidParameter, ValueError) as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"not a public key: {exc}") from None


def run_fingerprint(args: argparse.Namespace) -> int:
    if args.identity:
        public = load_identity(args.identity).public
    else:
        public = _read_public(args.public, args.public_file)
    if args.json:
        print(json.dumps({"public": public.to_text(), "fingerprint": public.fingerprint}, indent=2))
    elif args.identity:
        print(public.to_text())
        print(public.fingerprint)
    else:
        print(public.fingerprint)
    return ExitCode.OK


def _save(store: object, path: str) -> None:
    from ..session import PeerStore

    if not isinstance(store, PeerStore):  # pragma: no cover - typing aid
        raise TypeError("store")
    try:
        store.save(path)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot write {path}: {exc.strerror or exc}") from None


def run_peers_add(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    public = _read_public(args.public, args.public_file)
    if args.fingerprint is not None:
        try:
            normalize_fingerprint(args.fingerprint)
        except InvalidParameter as exc:
            raise CliError(ExitCode.USAGE, str(exc)) from None
        if not fingerprints_match(args.fingerprint, public.fingerprint):
            raise CliError(
                ExitCode.PEER,
                "the key's fingerprint differs from the one given: do not trust this key "
                f"(key: {public.fingerprint})",
            )
    store = load_peers(args.peers, missing_ok=True)
    try:
        store.add(args.name, public, note=args.note, replace=args.replace)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    _save(store, args.peers)
    msgs.out(f"trusted {args.name}: {public.fingerprint}")
    if args.fingerprint is None:
        msgs.warn("compare this fingerprint with the peer over a channel you trust (or pass --fingerprint)")
    return ExitCode.OK


def run_peers_list(args: argparse.Namespace) -> int:
    store = load_peers(args.peers, missing_ok=True)
    if args.json:
        doc = [{"name": p.name, "public": p.public.to_text(), "fingerprint": p.fingerprint, "note": p.note}
               for p in store]  # fmt: skip
        print(json.dumps(doc, indent=2))
        return ExitCode.OK
    if not len(store):
        Messages(args.quiet).info(f"no peers in {args.peers}")
        return ExitCode.OK
    width = max(len(p.name) for p in store)
    for p in store:
        note = f"  {p.note}" if p.note else ""
        print(f"{p.name:<{width}}  {p.fingerprint}{note}")
    return ExitCode.OK


def run_peers_remove(args: argparse.Namespace) -> int:
    if not os.path.exists(args.peers):
        raise CliError(ExitCode.LOCAL, f"peers file {args.peers} not found")
    store = load_peers(args.peers)
    try:
        store.remove(args.name)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    _save(store, args.peers)
    Messages(args.quiet).out(f"removed {args.name}")
    return ExitCode.OK
