"""``publish`` and ``published show|retire|log-add|log-check``: a lab's published sets
(docs/published-sets.md).

``publish`` writes one signed file of an epoch: the base file makes the epoch's key file (0600), a delta
or a withdrawal adds to the epoch under the same key. The forum host keeps the public log
(``published log-add``); queriers check files against it (``published log-check``, ``query --log``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TypeAlias

from .._fileio import atomic_write, remove_quietly
from ..canonical import CANON_VERSION
from ..errors import FileAccessError, InvalidParameter
from ..psi import IndicatorItems
from ..published import (
    DEFAULT_EVALUATIONS,
    EpochKey,
    PublicationLog,
    PublishedFile,
    append_to_log,
    build_file,
)
from ..published.labels import MAX_LABEL_BYTES
from ..published.tagset import bits_for
from ..session import Identity
from ..session.identity import PublicIdentity
from ..session.record import iso_time
from ._common import Messages, positive_int
from ._published_io import describe_file, read_labels, read_log, read_published
from ._session_io import add_identity_args, add_input_args, input_spec, load_identity, load_inputs
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: Label bytes of a base file given --labels and no --label-bytes.
DEFAULT_LABEL_BYTES = 64
DEFAULT_VALID_DAYS = 30


def _label_bytes(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n == 1 or not 0 <= n <= MAX_LABEL_BYTES:
        raise argparse.ArgumentTypeError(f"0 (no labels) or 2 to {MAX_LABEL_BYTES}, not {n}")
    return n


def _add_publish_parser(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "publish",
        parents=[common],
        help="publish our indicators as a signed, OPRF-encoded file of an epoch",
        description="Write one published-set file: the epoch's base file (it makes the epoch key file), or "
        "with --delta / --withdraw a later file under the same key. Post the file to the forum host; keep "
        "the key file private and `published retire` it when the epoch is over.",
    )
    add_identity_args(p, peers=False)
    p.add_argument("--epoch", required=True, metavar="NAME", help="the epoch's name (e.g. 2026-12)")
    p.add_argument(
        "--key",
        required=True,
        metavar="EPOCH_KEY_FILE",
        help="the epoch key file: made by the base file (never replaced), read and advanced by "
        "--delta and --withdraw",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (never overwritten)")
    add_input_args(p)
    p.set_defaults(canon_version=None)  # a delta takes the epoch's; a base the default
    p.add_argument(
        "--labels",
        metavar="LABELS.jsonl",
        help='JSON lines {"kind": ..., "value": ..., "label": {...}}: the context a querier '
        "learns for a match (not for withdrawals)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--delta", action="store_true", help="items added to the epoch since its base")
    which.add_argument("--withdraw", action="store_true", help="items retracted from the epoch")
    g = p.add_argument_group("the epoch's parameters (base file only; later files keep them)")
    g.add_argument(
        "--valid-days",
        type=positive_int,
        metavar="N",
        help=f"how long the epoch's files are valid (default: {DEFAULT_VALID_DAYS})",
    )
    g.add_argument(
        "--label-bytes",
        type=_label_bytes,
        metavar="N",
        help=f"size of every label (default: {DEFAULT_LABEL_BYTES} with --labels, else 0)",
    )
    g.add_argument(
        "--evaluations",
        type=positive_int,
        metavar="Q",
        help="bound on all evaluations by all queriers over the epoch, which sizes the tags "
        f"(default: {DEFAULT_EVALUATIONS})",
    )
    p.add_argument(
        "--padding",
        choices=("pow2", "none"),
        default="pow2",
        help="pad each kind's count to a power of two (default) or not",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="processes for the OPRF work (default: 1)")
    p.set_defaults(func=run_publish)


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    _add_publish_parser(sub, common)
    p = sub.add_parser(
        "published", parents=[common], help="inspect published files, retire keys, keep the log"
    )
    p.set_defaults(func=lambda args: _usage(p))
    psub = p.add_subparsers(dest="published_command", metavar="ACTION")
    s = psub.add_parser("show", parents=[common], help="check a published file's signature, print its header")
    s.add_argument("file", metavar="FILE")
    s.add_argument(
        "--publisher",
        metavar="KEYTEXT",
        help="the publisher's public key (blindmatch-ed25519:...): the file must be signed by it",
    )
    s.add_argument("--json", action="store_true", help="print a JSON object")
    s.set_defaults(func=run_show)
    r = psub.add_parser(
        "retire", parents=[common], help="destroy an epoch key (its files can no longer be queried)"
    )
    r.add_argument("--key", required=True, metavar="EPOCH_KEY_FILE")
    r.set_defaults(func=run_retire)
    a = psub.add_parser("log-add", parents=[common], help="the host: append a checked file to the public log")
    a.add_argument("--log", required=True, metavar="LOG", help="the log (created if missing)")
    a.add_argument("file", metavar="FILE")
    a.set_defaults(func=run_log_add)
    c = psub.add_parser("log-check", parents=[common], help="check that files are the ones the log shows")
    c.add_argument("--log", required=True, metavar="LOG")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--head", metavar="HEX", help="a head seen before (with --length): the log must extend it")
    c.add_argument("--length", type=int, metavar="N", help="the length of the log seen before")
    c.set_defaults(func=run_log_check)


def _usage(p: argparse.ArgumentParser) -> int:
    raise CliError(ExitCode.USAGE, f"choose an action: {p.prog} show|retire|log-add|log-check (see --help)")


# -- publish ------------------------------------------------------------------------------------------------


def _ftype(args: argparse.Namespace) -> str:
    return "delta" if args.delta else "withdrawal" if args.withdraw else "base"


def _existing_key(args: argparse.Namespace, identity: Identity) -> EpochKey:
    key = EpochKey.load(args.key)  # EpochKeyError (exit 5): missing, not private, not a key
    if key.publisher != identity.public.raw:
        raise CliError(ExitCode.USAGE, f"epoch key {args.key} belongs to another identity than --identity")
    if key.epoch != args.epoch:
        raise CliError(ExitCode.USAGE, f"epoch key {args.key} is for epoch {key.epoch!r}, not {args.epoch!r}")
    if args.canon_version is not None and args.canon_version != key.canon_version:
        raise CliError(ExitCode.USAGE, f"epoch {key.epoch!r} is canon version {key.canon_version}")
    given = [
        o
        for o, v in (
            ("--valid-days", args.valid_days),
            ("--label-bytes", args.label_bytes),
            ("--evaluations", args.evaluations),
        )
        if v is not None
    ]
    if given:
        raise CliError(
            ExitCode.USAGE, f"{', '.join(given)}: set by the epoch's base file, not by a later one"
        )
    return key


def _probe_folder(path: Path) -> None:
    """A file can be made next to ``path`` (checked before the work, not after it)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, probe = tempfile.mkstemp(prefix=".blindmatch-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CliError(
            ExitCode.LOCAL, f"cannot write to {folder}: {exc.strerror or exc} (nothing published)"
        ) from None


def _check_targets(args: argparse.Namespace, ftype: str) -> None:
    out = Path(args.out)
    _probe_folder(out)
    _probe_folder(Path(args.key))
    if out.exists() or out.is_symlink():
        raise CliError(ExitCode.LOCAL, f"{out} exists: publish never replaces a file (give another --out)")
    key = Path(args.key)
    if ftype == "base" and (key.exists() or key.is_symlink()):
        raise CliError(
            ExitCode.LOCAL,
            f"epoch key {key} exists: a base file starts an epoch with a new key "
            "(add to that epoch with --delta or --withdraw, or give another --key)",
        )


def _new_key(args: argparse.Namespace, identity: Identity, items: IndicatorItems, labelled: bool) -> EpochKey:
    """The base file's epoch key: tags sized for twice the padded count (room for deltas)."""
    counts = [len(items.items_of(k)) for k in items.kinds]
    padded = sum(n if args.padding == "none" else 1 << max(n - 1, 0).bit_length() for n in counts)
    evaluations = args.evaluations or DEFAULT_EVALUATIONS
    label_bytes = args.label_bytes if args.label_bytes is not None else DEFAULT_LABEL_BYTES * labelled
    now = int(time.time())
    try:
        return EpochKey.generate(
            identity,
            args.epoch,
            not_before=now,
            not_after=now + 86400 * (args.valid_days or DEFAULT_VALID_DAYS),
            tag_bits=bits_for(max(2 * padded, 1), evaluations),
            label_bytes=label_bytes,
            evaluations=evaluations,
            canon_version=items.canon_version,
        )
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None


def _write_file_and_key(args: argparse.Namespace, data: bytes, key: EpochKey) -> None:
    """The file first, then the advanced key; a key that cannot be saved takes the file back."""
    out = Path(args.out)
    if out.exists() or out.is_symlink():  # appeared meanwhile
        raise CliError(ExitCode.LOCAL, f"{out} exists: publish never replaces a file (give another --out)")
    try:
        atomic_write(out, data, mode=0o644)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, f"{exc} (nothing was published; the epoch key is unchanged)") from None
    try:
        key.save(args.key)
    except FileAccessError as exc:
        remove_quietly(out)
        raise CliError(ExitCode.LOCAL, f"cannot save the epoch key: {exc} ({out} removed)") from None


def _labelled(labels: dict[tuple[str, str], dict[str, Any]], items: IndicatorItems) -> int:
    """How many labels name one of the published indicators."""
    values = {k: set(items.values(k)) for k in items.kinds}
    return sum(1 for kind, value in labels if value in values.get(kind, ()))


def run_publish(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    ftype = _ftype(args)
    _check_targets(args, ftype)
    identity = load_identity(args.identity)
    key = _existing_key(args, identity) if ftype != "base" else None
    args.canon_version = key.canon_version if key is not None else (args.canon_version or CANON_VERSION)
    iset = load_inputs(args, msgs, input_spec(args))
    items = iset.psi_items().indicators
    if key is None:
        key = _new_key(args, identity, items, labelled=bool(args.labels))
    labels: dict[tuple[str, str], dict[str, Any]] = {}
    if args.labels and ftype == "withdrawal":
        msgs.warn("a withdrawal carries no labels: --labels is ignored")
    elif args.labels:
        labels = read_labels(
            args.labels, version=key.canon_version, region=args.default_region, label_bytes=key.label_bytes
        )
        unused = len(labels) - _labelled(labels, items)
        if unused:
            msgs.warn(f"{unused} label(s) name indicators that are not in the inputs: not published")
    sequence = key.next_sequence
    try:
        data, advanced = build_file(
            identity, key, items, ftype=ftype, labels=labels, padding=args.padding, workers=args.workers
        )
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    _write_file_and_key(args, data, advanced)
    f = PublishedFile.from_bytes(data, publisher=identity.public)
    per_kind = ", ".join(f"{k} {len(items.items_of(k))}" for k in items.kinds)
    msgs.out(f"published {ftype} file {sequence} of epoch {key.epoch!r}: {args.out}")
    msgs.out(
        f"  file id {f.file_id.hex()}, {len(items)} indicators ({per_kind}), padded to "
        f"{sum(s.count for s in f.kinds.values())}; {f.size} bytes"
    )
    msgs.out(
        f"  tag bits {key.tag_bits}, label bytes {f.label_bytes}"
        + (f" ({_labelled(labels, items)} labelled)" if labels else "")
    )
    msgs.out(
        f"  valid until {iso_time(key.not_after)}; epoch key {args.key} (next sequence "
        f"{advanced.next_sequence}): keep it private, `published retire` it after the epoch"
    )
    return ExitCode.OK


# -- show, retire, log --------------------------------------------------------------------------------------


def _publisher_arg(text: str | None) -> PublicIdentity | None:
    if text is None:
        return None
    try:
        return PublicIdentity.from_text(text)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, f"--publisher: {exc}") from None


def run_show(args: argparse.Namespace) -> int:
    publisher = _publisher_arg(args.publisher)
    f = read_published(args.file, publisher)
    doc = describe_file(f, args.file)
    now = time.time()
    doc["valid_now"] = f.header["not_before"] <= now <= f.header["not_after"]
    doc["signed_by_named_publisher"] = publisher is not None
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
        return ExitCode.OK
    who = "the --publisher key" if publisher is not None else "the key it names (check the fingerprint)"
    lines = [
        f"{args.file}: published {f.type} file {f.sequence} of epoch {f.epoch!r}, signed by {who}",
        f"  publisher {doc['publisher']} (fingerprint {doc['publisher_fingerprint']})",
        f"  valid {doc['not_before']} to {doc['not_after']}"
        + ("" if doc["valid_now"] else " -- NOT VALID NOW")
        + f"; created {doc['created']}",
        f"  file id {doc['file_id']}, base {doc['base']}",
        "  counts (padded): " + (", ".join(f"{k} {n}" for k, n in doc["counts"].items()) or "none"),
        f"  tag bits {doc['tag_bits']}, label bytes {doc['label_bytes']}, evaluations {doc['evaluations']}, "
        f"padding {doc['padding']}, canon version {doc['canon_version']}",
        f"  {doc['bytes']} bytes, sha256 {doc['sha256']}",
    ]
    for line in lines:
        print(line)
    return ExitCode.OK


def run_retire(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    key = EpochKey.load(args.key)  # an epoch key, private: never wipe some other file by mistake
    EpochKey.destroy(args.key)
    msgs.out(
        f"epoch key {args.key} of epoch {key.epoch!r} destroyed (overwritten and deleted): its "
        f"{key.next_sequence} file(s) can no longer be queried"
    )
    return ExitCode.OK


def run_log_add(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    f = read_published(args.file)  # a forged or malformed file never reaches the log (exit 4)
    data = append_to_log(read_log(args.log, missing_ok=True), f, int(time.time()))
    try:
        atomic_write(args.log, data, mode=0o644)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    log = PublicationLog.from_bytes(data)
    msgs.out(
        f"logged {f.type} file {f.sequence} of epoch {f.epoch!r} by {f.publisher.fingerprint} "
        f"as entry {log.length - 1} of {args.log}"
    )
    msgs.out(f"  head {log.head.hex()}, length {log.length}")
    return ExitCode.OK


def run_log_check(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    if (args.head is None) != (args.length is None):
        raise CliError(ExitCode.USAGE, "--head and --length go together")
    log = PublicationLog.from_bytes(read_log(args.log))
    if args.head is not None:
        try:
            head = bytes.fromhex(args.head)
        except ValueError:
            raise CliError(ExitCode.USAGE, "--head: hex digits") from None
        log.check_extends(head, args.length)
    for path in args.files:
        f = read_published(path)
        entry = log.check_file(f)
        msgs.out(
            f"{path}: {f.type} file {f.sequence} of epoch {f.epoch!r} by {f.publisher.fingerprint} "
            f"is log entry {entry.index}"
        )
    msgs.out(f"log {args.log}: head {log.head.hex()}, length {log.length} (keep them: --head/--length)")
    return ExitCode.OK
