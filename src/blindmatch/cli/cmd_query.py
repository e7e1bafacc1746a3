"""``query``: check our indicators against a publisher's published files, over TCP against its ``serve``
(docs/published-sets.md). Writes a local report (matches with their labels: leads, not verdicts) and the
signed query record to ``--out-dir``; exit 0 with matches, 1 without."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any, TypeAlias

from .._fileio import atomic_write
from .._indicator_types import SENSITIVE_KINDS, redact
from .._version import __version__
from ..errors import BlindmatchError, FileAccessError, InvalidParameter, RemoteError
from ..indicator_set import IndicatorSet
from ..published import PublicationLog, PublishedFile, QueryResult, QuerySession
from ..session.identity import PUBLIC_KEY_PREFIX, PublicIdentity
from ..session.record import iso_time
from ..transport import DEFAULT_TIMEOUT, PeerDisconnected, connect_and_run
from ..transport.dispatch import ResultlessParty
from ._common import Messages, positive_float
from ._published_io import check_against_log, query_prefix, read_published, write_query_record
from ._session_io import (
    add_identity_args,
    add_input_args,
    check_out_dir,
    input_spec,
    load_identity,
    load_inputs,
    load_peers,
)
from .exitcodes import CliError, ExitCode

__all__ = ["QUERY_REPORT_FORMAT", "add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
QUERY_REPORT_FORMAT = "blindmatch-query-report"


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    q = sub.add_parser(
        "query",
        parents=[common],
        help="check our indicators against a publisher's published files",
        description="Ask the publisher (its `serve`) to evaluate our indicators, blinded, under the key of "
        "the published files we hold; learn which of ours are in them, with their labels. The publisher "
        "learns how many indicators of each kind we asked about, never which.",
    )
    add_identity_args(q)
    q.add_argument(
        "--publisher",
        required=True,
        metavar="NAME-or-KEY",
        help="the publisher: a name in the peers file, or its public key (blindmatch-ed25519:...)",
    )
    q.add_argument(
        "--file",
        action="append",
        required=True,
        metavar="FILE",
        help="the epoch's base file, then its deltas and withdrawals (repeatable; any order)",
    )
    q.add_argument("--connect", required=True, metavar="HOST:PORT", help="the publisher's serve")
    q.add_argument(
        "--log",
        metavar="LOG",
        help="the host's publication log: every file must be the one it shows at its place",
    )
    q.add_argument(
        "--no-verify",
        action="store_true",
        help="do not ask for proofs that the publisher used the files' key (default: ask)",
    )
    q.add_argument(
        "--padding",
        choices=("none", "pow2"),
        default="none",
        help="pad each kind's count with dummy items to a power of two, so the publisher learns each count "
        "only within 2x; dummies cost budget like real items (default: none, exact counts)",
    )
    q.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"longest wait for any single read (default: {DEFAULT_TIMEOUT:g})",
    )
    q.add_argument(
        "--out-dir",
        default="blindmatch-out",
        metavar="DIR",
        help="where the report and the record go (default: blindmatch-out)",
    )
    add_input_args(q)
    q.set_defaults(canon_version=None, func=run_query)  # default: the files' canon version


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for an IPv6 address)."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CliError(ExitCode.USAGE, f"--connect: expected HOST:PORT, not {text!r}")
    return host, int(port)


def publisher_of(args: argparse.Namespace) -> tuple[str, PublicIdentity]:
    """``--publisher``: a peer name, or a public key (named as in the peers file when it is there)."""
    peers = load_peers(args.peers, missing_ok=True)
    if args.publisher in peers:
        peer = peers.get(args.publisher)
        return peer.name, peer.public
    if not args.publisher.startswith(PUBLIC_KEY_PREFIX):
        raise CliError(
            ExitCode.PEER,
            f"no peer named {args.publisher!r} in {args.peers} "
            "(add it with `peers add`, or give its public key)",
        )
    try:
        public = PublicIdentity.from_text(args.publisher)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, f"--publisher: {exc}") from None
    known = peers.lookup_key(public)
    return (known.name if known else f"publisher-{public.fingerprint[:8]}"), public


def load_files(
    paths: list[str], publisher: PublicIdentity, log: str | None
) -> tuple[list[PublishedFile], PublicationLog | None]:
    """The files, signed by ``publisher``, valid now, in sequence order; checked against ``log``."""
    files = sorted((read_published(p, publisher) for p in paths), key=lambda f: f.sequence)
    now = time.time()
    for f in files:
        f.check_time(now)
    return files, (check_against_log(log, files) if log else None)


def _canon_version(args: argparse.Namespace, files: list[PublishedFile]) -> int:
    version = int(files[0].header["canon_version"])
    if args.canon_version is not None and args.canon_version != version:
        raise CliError(ExitCode.USAGE, f"the files are canon version {version}, not {args.canon_version}")
    return version


def _shown(kind: str, canonical: str, key: bytes) -> str:
    if kind not in SENSITIVE_KINDS:
        return canonical
    return redact(canonical, hmac.new(key, f"{kind}\0{canonical}".encode(), hashlib.sha256).hexdigest()[:12])


def query_report(
    result: QueryResult,
    iset: IndicatorSet,
    files: list[PublishedFile],
    session: dict[str, Any],
    log: PublicationLog | None,
) -> dict[str, Any]:
    """The local report of one query (indicator values and labels: never share it)."""
    key = os.urandom(32)
    matches = [
        {
            "kind": m.kind,
            "value": _shown(m.kind, m.value, key),
            "label": m.label,
            "file_sequence": m.sequence,
            "origins": iset.origins(m.kind, m.value),
        }
        for m in result.matches
    ]
    per_kind: dict[str, int] = {}
    for m in result.matches:
        per_kind[m.kind] = per_kind.get(m.kind, 0) + 1
    return {
        "format": QUERY_REPORT_FORMAT,
        "notice": "LOCAL ONLY: contains indicator values and the publisher's labels; never share this file",
        "library_version": __version__,
        "matches_are": "leads: indicators the publisher published, not verdicts (see inputs.exclusions)",
        **session,
        "files": [
            {
                "sequence": f.sequence,
                "type": f.type,
                "file_id": f.file_id.hex(),
                "sha256": f.sha256.hex(),
                "not_after": iso_time(f.header["not_after"]),
            }
            for f in files
        ],
        "log": {"head": log.head.hex(), "length": log.length} if log is not None else None,
        "queried": dict(result.queried),
        "count": len(result.matches),
        "counts_per_kind": dict(sorted(per_kind.items())),
        "matches": matches,
        "withdrawn": [{"kind": k, "value": _shown(k, v, key)} for k, v in result.withdrawn],
        "unopened_labels": result.unopened,
        "inputs": iset.summary(),
    }


def _write_outputs(
    session: QuerySession, name: str, report: dict[str, Any] | None, out_dir: str
) -> list[Path]:
    if session.state not in ("DONE", "FAILED"):
        return []  # never started (unreachable): nothing to record
    record = session.record()
    prefix = query_prefix(name, record)
    written = []
    if report is not None:
        data = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            written.append(atomic_write(Path(out_dir) / f"{prefix}query-report.json", data, mode=0o600))
        except FileAccessError as exc:
            write_query_record(record, out_dir, prefix)
            raise CliError(ExitCode.LOCAL, f"cannot write the query report: {exc}") from None
    written.append(write_query_record(record, out_dir, prefix))
    return written


def _summary(
    name: str, files: list[PublishedFile], result: QueryResult, seconds: float, verified: bool
) -> list[str]:
    asked = ", ".join(f"{k} {n}" for k, n in sorted(result.queried.items()))
    per_kind: dict[str, int] = {}
    for m in result.matches:
        per_kind[m.kind] = per_kind.get(m.kind, 0) + 1
    found = ", ".join(f"{k} {n}" for k, n in sorted(per_kind.items()))
    lines = [
        f"query to {name} (epoch {files[0].epoch!r}, {len(files)} file(s)) finished in {seconds:.1f} s",
        f"  we asked about {sum(result.queried.values())} indicators ({asked}); "
        + ("every evaluation proven under the files' key" if verified else "no proofs asked (--no-verify)"),
        f"  matches: {len(result.matches)}" + (f" ({found})" if found else "") + " -- leads, not verdicts",
    ]
    if result.withdrawn:
        lines.append(f"  withdrawn by a later file: {len(result.withdrawn)}")
    if result.unopened:
        lines.append(
            f"  tag matches whose label did not open (a false match or a damaged file): {result.unopened}"
        )
    return lines


def run_query(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    host, port = host_port(args.connect)
    identity = load_identity(args.identity)
    name, publisher = publisher_of(args)
    check_out_dir(args.out_dir)
    files, log = load_files(args.file, publisher, args.log)
    args.canon_version = _canon_version(args, files)
    iset = load_inputs(args, msgs, input_spec(args))
    items = iset.psi_items().indicators
    if not any(items.items_of(k) for k in items.kinds if any(k in f.kinds for f in files)):
        kinds = sorted({k for f in files for k in f.kinds})
        msgs.out(
            f"none of our indicators is of a kind the files hold ({', '.join(kinds) or 'none'}): "
            "nothing to query"
        )
        return ExitCode.NO_MATCH
    session = QuerySession(
        identity, publisher, files, items, verifiable=not args.no_verify, padding=args.padding, peer_name=name
    )
    started = time.time()
    msgs.info(f"querying {name} at {host}:{port} about {len(items)} indicators ...")
    error: BlindmatchError | None = None
    try:
        asyncio.run(connect_and_run(ResultlessParty(session), host, port, timeout=args.timeout))
    except BlindmatchError as exc:
        error = exc
    result = session.result
    meta: dict[str, Any] = {
        "publisher": name,
        "publisher_fingerprint": publisher.fingerprint,
        "epoch": files[0].epoch,
        "verified": not args.no_verify,
        "started": iso_time(started),
        "finished": iso_time(time.time()),
    }
    if session.state in ("DONE", "FAILED"):
        meta["disclosed_counts"] = session.record().get("counts")  # what the publisher learned
    report = query_report(result, iset, files, meta, log) if result is not None else None
    paths = _write_outputs(session, name, report, args.out_dir)
    if error is not None or result is None:
        for p in paths:
            msgs.info(f"wrote {p}")
        code = ExitCode.PEER if isinstance(error, RemoteError) else ExitCode.LOCAL
        hint = ""
        if isinstance(error, PeerDisconnected):
            hint = (
                ": the publisher does not know or trust our key, its serve does not answer queries on these "
                "files (--publish-key, --published), or it refused the connection (a limit)"
            )
        raise CliError(code, f"query to {name} failed: {error}{hint}")
    for line in _summary(name, files, result, time.time() - started, not args.no_verify):
        msgs.out(line)
    for p in paths:
        msgs.out(f"  wrote {p}")
    return ExitCode.OK if result.matches else ExitCode.NO_MATCH
