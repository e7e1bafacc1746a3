"""What the published-set commands share: reading published files, logs, labels and epoch keys, the
``serve`` options that make it answer queries too, and writing a query's record."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._fileio import atomic_write, read_capped
from .._strictjson import object_without_duplicates
from ..canonical import canonicalize
from ..errors import FileAccessError, InvalidIndicator, InvalidParameter
from ..published import (
    EpochKey,
    MemoryEvaluationBudget,
    PublicationLog,
    PublishedFile,
    PublisherSession,
    StoredEvaluationBudget,
)
from ..published.budget import EvaluationBudget
from ..published.labels import check_label
from ..published.session import MAX_HANDSHAKE as QUERY_MAX_HANDSHAKE
from ..session import Identity, PeerStore, SessionParty
from ..session._base import MAX_HANDSHAKE_BODY
from ..session.channel import HEADER_BYTES, SIGNATURE_BYTES
from ..session.identity import PublicIdentity
from ..session.record import iso_time
from ..transport import StateStore
from ..transport.dispatch import ResultlessParty
from ._common import Messages, iter_input_lines, open_input
from .exitcodes import CliError, ExitCode

__all__ = [
    "FIRST_MESSAGE_LIMIT",
    "MAX_FILE_BYTES",
    "QueryAnswering",
    "add_serve_args",
    "check_against_log",
    "describe_file",
    "load_query_answering",
    "query_caps",
    "query_prefix",
    "read_labels",
    "read_log",
    "read_published",
    "write_query_record",
]

#: The largest published file or log read (they come from elsewhere: refused, not truncated, above it).
MAX_FILE_BYTES = 1 << 31
#: The longest first message a server answering both exchanges and queries takes (a hello or a query).
FIRST_MESSAGE_LIMIT = HEADER_BYTES + max(MAX_HANDSHAKE_BODY, QUERY_MAX_HANDSHAKE) + SIGNATURE_BYTES
_LABEL_MEMBERS = frozenset({"kind", "value", "label"})


# -- files, logs and labels --------------------------------------------------------------------------------


def read_published(path: str | Path, publisher: PublicIdentity | None = None) -> PublishedFile:
    """Read and check one published file (signature; signer ``publisher`` when given). A file that cannot
    be read is exit 5; a malformed or forged one raises (exit 4)."""
    try:
        data = read_capped(path, MAX_FILE_BYTES, what="published file")
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    return PublishedFile.from_bytes(data, publisher=publisher)


def read_log(path: str | Path, *, missing_ok: bool = False) -> bytes:
    """The bytes of a publication log (empty when ``missing_ok`` and there is none)."""
    p = Path(path)
    if missing_ok and not p.exists() and not p.is_symlink():
        return b""
    try:
        return read_capped(p, MAX_FILE_BYTES, what="publication log")
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None


def check_against_log(log_path: str, files: Sequence[PublishedFile]) -> PublicationLog:
    """Every file must be the one and only file the log shows at its place, and the log may list no other
    file of the epoch (a held-back delta or withdrawal): else LogMismatch, exit 4."""
    log = PublicationLog.from_bytes(read_log(log_path))
    log.check_files(files)
    return log


def describe_file(f: PublishedFile, path: str | None = None) -> dict[str, Any]:
    """The header of a checked file, as ``published show`` prints it (no secret, no indicator)."""
    h = f.header
    return {
        "file": path,
        "signature": "verified",
        "epoch": f.epoch,
        "type": f.type,
        "sequence": f.sequence,
        "file_id": h["file_id"],
        "base": h["base"],
        "publisher": f.publisher.to_text(),
        "publisher_fingerprint": f.publisher.fingerprint,
        "not_before": iso_time(h["not_before"]),
        "not_after": iso_time(h["not_after"]),
        "created": iso_time(h["created"]),
        "canon_version": h["canon_version"],
        "tag_bits": f.tag_bits,
        "label_bytes": h["label_bytes"],
        "evaluations": h["evaluations"],
        "padding": h["padding"],
        "counts": {k: s.count for k, s in sorted(f.kinds.items())},
        "items": sum(s.count for s in f.kinds.values()),
        "bytes": f.size,
        "sha256": f.sha256.hex(),
    }


def _label_line(
    n: int, text: str | None, version: int, region: str | None, label_bytes: int
) -> tuple[tuple[str, str], dict[str, Any]]:
    where = f"labels line {n}"
    if text is None:
        raise CliError(ExitCode.INVALID_INPUT, f"{where}: not UTF-8")
    try:
        doc = json.loads(text, object_pairs_hook=object_without_duplicates)
    except ValueError:
        raise CliError(ExitCode.INVALID_INPUT, f"{where}: not a JSON object") from None
    if not isinstance(doc, dict) or set(doc) != _LABEL_MEMBERS:
        raise CliError(ExitCode.INVALID_INPUT, f"{where}: an object of kind, value and label")
    kind, value, label = doc["kind"], doc["value"], doc["label"]
    if not isinstance(kind, str) or not isinstance(value, str) or not isinstance(label, dict):
        raise CliError(ExitCode.INVALID_INPUT, f"{where}: kind and value are strings, label an object")
    try:
        canon = canonicalize(kind, value, default_region=region, version=version)
        check_label(label, label_bytes)
    except InvalidIndicator as exc:  # names the kind and the reason, never the value
        raise CliError(ExitCode.INVALID_INPUT, f"{where}: {exc}") from None
    except InvalidParameter as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{where}: {exc}") from None
    return (kind, canon), label


def read_labels(
    path: str, *, version: int, region: str | None, label_bytes: int
) -> dict[tuple[str, str], dict[str, Any]]:
    """A labels file (JSON lines of ``{"kind", "value", "label"}``), keyed by ``(kind, canonical)``: each
    value canonicalized under ``version``, each label checked to fit ``label_bytes``."""
    if label_bytes == 0:
        raise CliError(ExitCode.USAGE, "this epoch's files carry no labels (label bytes 0): drop --labels")
    out: dict[tuple[str, str], dict[str, Any]] = {}
    first: dict[tuple[str, str], int] = {}
    with open_input(path) as fh:
        for n, text in iter_input_lines(fh):
            if text is not None and not text.strip():
                continue
            key, label = _label_line(n, text, version, region, label_bytes)
            if key in out:
                raise CliError(
                    ExitCode.INVALID_INPUT,
                    f"labels line {n}: a second label for the indicator of line {first[key]}",
                )
            out[key], first[key] = label, n
    return out


# -- serve: answering queries -------------------------------------------------------------------------------


def query_caps(text: str) -> dict[str, int]:
    """``--query-caps``: ``KIND=N,...`` (N a non-negative whole number)."""
    caps: dict[str, int] = {}
    for part in text.split(","):
        kind, sep, n = part.strip().partition("=")
        if not sep or not kind.strip() or not n.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected KIND=N,... (got {text!r})")
        caps[kind.strip()] = int(n)
    return caps


def add_serve_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("published sets (also answer queries; docs/published-sets.md)")
    g.add_argument(
        "--publish-key",
        action="append",
        default=[],
        metavar="EPOCH_KEY_FILE",
        help="an epoch key (from `publish`) to answer queries with (repeatable)",
    )
    g.add_argument(
        "--published",
        action="append",
        default=[],
        metavar="FILE",
        help="a file published under those keys: base, deltas, withdrawals (repeatable)",
    )
    g.add_argument(
        "--query-caps",
        type=query_caps,
        default=None,
        metavar="KIND=N,...",
        help="evaluations each querier may ask for, per epoch and kind (default: by how "
        "enumerable the kind is; an unlisted kind keeps its default); counted in --store",
    )


class QueryAnswering:
    """What ``serve`` needs to answer published-set queries: our epoch keys, the files published under
    them, and one budget for every connection."""

    def __init__(
        self,
        identity: Identity,
        peers: PeerStore,
        keys: list[EpochKey],
        files: list[PublishedFile],
        budget: EvaluationBudget,
    ) -> None:
        self._identity, self._peers, self._keys, self._files = identity, peers, keys, files
        self._budget = budget
        self._seen: set[bytes] = set()
        self.epochs = sorted({k.epoch for k in keys})

    def party(self) -> SessionParty:
        return ResultlessParty(
            PublisherSession(
                self._identity,
                self._peers,
                self._keys,
                self._files,
                budget=self._budget,
                seen_session_ids=self._seen,
            )
        )


def _load_keys(paths: list[str], identity: Identity) -> list[EpochKey]:
    keys = []
    for path in paths:
        key = EpochKey.load(path)  # EpochKeyError: exit 5
        if key.publisher != identity.public.raw:
            raise CliError(ExitCode.USAGE, f"epoch key {path} belongs to another identity than --identity")
        keys.append(key)
    return keys


def load_query_answering(
    args: argparse.Namespace, identity: Identity, peers: PeerStore, store: StateStore | None, msgs: Messages
) -> QueryAnswering | None:
    """From ``--publish-key``/``--published``/``--query-caps`` (None when neither is given)."""
    if not args.publish_key and not args.published:
        if args.query_caps:
            raise CliError(ExitCode.USAGE, "--query-caps needs --publish-key and --published")
        return None
    if not args.publish_key or not args.published:
        raise CliError(ExitCode.USAGE, "answering queries needs both --publish-key and --published")
    keys = _load_keys(args.publish_key, identity)
    files = [read_published(p, identity.public) for p in args.published]
    bases = {k.base_id for k in keys}
    for path, f in zip(args.published, files, strict=True):
        if f.base_id not in bases:
            raise CliError(ExitCode.USAGE, f"{path}: no --publish-key for its epoch {f.epoch!r}")
    for path, k in zip(args.publish_key, keys, strict=True):
        if not any(f.base_id == k.base_id and f.type == "base" for f in files):
            raise CliError(ExitCode.USAGE, f"epoch key {path}: give its base file with --published")
    try:
        budget: EvaluationBudget = (
            StoredEvaluationBudget(store, args.query_caps)
            if store is not None
            else MemoryEvaluationBudget(args.query_caps)
        )
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, f"--query-caps: {exc}") from None
    now = time.time()
    for k in keys:
        if now > k.not_after:
            msgs.warn(f"epoch {k.epoch!r} is over: its queries are refused (`published retire` its key)")
    return QueryAnswering(identity, peers, keys, files, budget)


def write_query_record(record: dict[str, Any], out_dir: str | Path, prefix: str) -> Path:
    """``<prefix>query-record.json``: the signed, shareable record of one query (no indicator, no label)."""
    data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        return atomic_write(Path(out_dir) / f"{prefix}query-record.json", data, mode=0o644)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None


def query_prefix(peer: str | None, record: dict[str, Any]) -> str:
    """``<peer>-<session id (12 hex)>-``, as exchange outputs are named."""
    sid = record.get("session_id")
    return f"{peer or 'unknown-peer'}-{str(sid)[:12] if sid else 'unknown'}-"
