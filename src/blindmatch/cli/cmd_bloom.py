"""``bloom create|insert|check|join|show``: Bloom filter files, with the verbs of DCSO's ``bloom`` tool.

Three kinds of filter, told apart by how values become items:

* ``--format dcso`` (``dcso-v1``): DCSO's unkeyed FNV-1 over each line's bytes, so DCSO's, CIRCL's and
  poppy's tools can read our files and we theirs;
* ``--format native`` without a key: MurmurHash3 over each line's bytes;
* ``--format native`` with ``--key-file``: keyed tokens (the consortium-key exchange,
  ``docs/bloom-exchange.md``);
  the file records the key id, canon version, kinds and context, and checking with another key, context
  or canon version is an error, not zero matches.

With ``--kind`` (required for keyed filters) each line is canonicalized first, so differently written
spellings of one indicator agree; both sides must then use the same kind. Anyone who can compute the
items (everyone for unkeyed filters, every key holder for keyed ones) can test guesses offline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from .._fileio import atomic_write
from ..bloom import EXCHANGE_NAME, BloomFilter, DcsoFile, ExchangeFile, FilterMetadata, dcso_filter
from ..bloom._container import GZIP_MAGIC, read_capped, ungzip_capped
from ..bloom.native import MAGIC
from ..canonical import CANON_VERSION, KINDS, canonicalize
from ..errors import CapacityError, InvalidIndicator, InvalidParameter, MalformedFile
from ..tokens import Tokenizer
from ._common import Messages, iter_input_lines, open_input, positive_int, probability, read_token_key
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_MAX_FILE = 1 << 32


def _key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key-file", metavar="F", help="shared token key (hex): a keyed filter (native only)")
    p.add_argument("--context", default="", help="token context (keyed filters)")
    p.add_argument("--algorithm", choices=("hmac-sha256", "blake2b"), default="hmac-sha256")


def _value_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=KINDS, metavar="KIND", help="canonicalize each line as this kind first")
    p.add_argument("--default-region", metavar="CC", help="region for national phone numbers")
    p.add_argument("--skip-invalid", action="store_true", help="leave out lines that do not canonicalize")
    p.add_argument("--from", dest="src", default="-", metavar="FILE", help="values file (default: stdin)")
    _key_args(p)


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser(
        "bloom",
        parents=[common],
        help="Bloom filter files (native or DCSO format)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.set_defaults(func=lambda args: _usage())
    bs = b.add_subparsers(dest="bloom_command", metavar="VERB")

    c = bs.add_parser("create", parents=[common], help="create an empty filter file")
    c.add_argument("file")
    c.add_argument("-n", "--capacity", type=positive_int, required=True, help="number of values it will hold")
    c.add_argument("-p", "--fpr", type=probability, default=1e-6,
                   help="false-positive rate at capacity (1e-6)")  # fmt: skip
    c.add_argument("--format", choices=("native", "dcso"), default="native")
    c.add_argument("--gzip", action="store_true", help="gzip-compress the file")
    c.add_argument("--kind", action="append", choices=KINDS, metavar="KIND",
                   help="kind the filter will hold (repeatable; required with --key-file)")  # fmt: skip
    c.add_argument("--description", default="", help="free text stored in a native file's metadata")
    c.add_argument("--allow-overfill", action="store_true", help="allow inserting past capacity")
    c.add_argument("--force", action="store_true", help="replace an existing file")
    _key_args(c)
    c.set_defaults(func=run_create)

    i = bs.add_parser("insert", parents=[common], help="insert values (one per line) into a filter file")
    i.add_argument("file")
    _value_args(i)
    i.add_argument("--gzip", action="store_true", help="gzip-compress the rewritten file")
    i.set_defaults(func=run_insert)

    k = bs.add_parser(
        "check", parents=[common], help="print the values the filter probably holds; exit 1 if none"
    )
    k.add_argument("file")
    _value_args(k)
    k.set_defaults(func=run_check)

    j = bs.add_parser("join", parents=[common], help="write the union of filters with equal parameters")
    j.add_argument("out")
    j.add_argument("inputs", nargs="+", metavar="IN")
    j.add_argument("--gzip", action="store_true")
    j.set_defaults(func=run_join)

    s = bs.add_parser("show", parents=[common], help="print a filter file's parameters and metadata")
    s.add_argument("file")
    s.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    s.set_defaults(func=run_show)


def _usage() -> int:
    raise CliError(ExitCode.USAGE, "choose a verb: blindmatch bloom create|insert|check|join|show")


@dataclasses.dataclass
class _Loaded:
    fmt: str  # "native" | "dcso"
    filter: BloomFilter
    gzipped: bool
    dcso_data: bytes = b""


def _load(path: str) -> _Loaded:
    """Read a filter file through the library's guarded loaders: a gzip file is decompressed only as far as
    its own header allows (a gzip bomb is refused from its first bytes, never inflated)."""
    p = Path(path)
    try:
        data = read_capped(p, _MAX_FILE)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        gz = data[:2] == GZIP_MAGIC
        head = ungzip_capped(data, len(MAGIC), head=True) if gz else data[: len(MAGIC)]
        if head == MAGIC:
            return _Loaded("native", BloomFilter.from_bytes(data, max_bytes=_MAX_FILE), gz)
        d = DcsoFile.from_bytes(data, max_bytes=_MAX_FILE)
        return _Loaded("dcso", d.filter, gz, d.data)
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{p}: not a usable filter file: {exc}") from None


def _save(path: str, loaded: _Loaded, *, gzip: bool) -> None:
    compress = gzip or loaded.gzipped or path.endswith(".gz")
    if loaded.fmt == "dcso":
        data = DcsoFile(loaded.filter, loaded.dcso_data).to_bytes(compress=compress)
    else:
        data = loaded.filter.to_bytes(compress=compress)
    try:
        atomic_write(path, data, mode=0o644)
    except InvalidParameter as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None


def _tokenizer(args: argparse.Namespace, msgs: Messages) -> Tokenizer | None:
    if not args.key_file:
        return None
    key = read_token_key(args.key_file, msgs)
    try:
        return Tokenizer(key, context=args.context.encode("utf-8"), algorithm=args.algorithm)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None


def run_create(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    if Path(args.file).exists() and not args.force:
        raise CliError(ExitCode.LOCAL, f"{args.file} exists already (use --force to replace it)")
    tok = _tokenizer(args, msgs)
    try:
        if args.format == "dcso":
            if tok is not None:
                raise CliError(ExitCode.USAGE, "dcso-v1 filters are unkeyed: --key-file needs native")
            bf = dcso_filter(args.capacity, args.fpr, allow_overfill=args.allow_overfill)
            loaded = _Loaded("dcso", bf, args.gzip)
        else:
            kinds = tuple(dict.fromkeys(args.kind or ()))
            if tok is not None and not kinds:
                raise CliError(ExitCode.USAGE, "a keyed filter needs the kinds it will hold (--kind)")
            md = FilterMetadata(
                key_id=tok.key_id if tok else None,
                canon_version=CANON_VERSION if (tok or kinds) else None,
                kinds=kinds,
                algorithm=tok.algorithm if tok else None,
                context=tok.context if tok else None,
                description=args.description,
                name=EXCHANGE_NAME if tok else "",
                created=None,
            )
            bf = BloomFilter.for_capacity(
                args.capacity, args.fpr, scheme="token" if tok else "mmh3",
                allow_overfill=args.allow_overfill, metadata=md,
            )  # fmt: skip
            loaded = _Loaded("native", bf, args.gzip)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    _save(args.file, loaded, gzip=args.gzip)
    msgs.out(f"created {args.file}: {args.format}, m={bf.m} bits ({bf.nbytes} bytes), k={bf.k}, "
          f"capacity {bf.capacity}, fpr {bf.fpr:g}" + (f", key id {tok.key_id}" if tok else ""))  # fmt: skip
    return ExitCode.OK


def _item_maker(args: argparse.Namespace, loaded: _Loaded, msgs: Messages) -> Callable[[str], bytes]:
    """How a line becomes a filter item, after checking the filter and the options fit together."""
    bf = loaded.filter
    md = bf.metadata
    tok = _tokenizer(args, msgs)
    kind: str | None = args.kind
    region = args.default_region
    if bf.scheme == "token":
        if tok is None:
            raise CliError(ExitCode.USAGE, f"{args.file} holds keyed tokens (key id {md.key_id}): --key-file")
        if kind is None:
            raise CliError(ExitCode.USAGE, f"{args.file} is keyed: give the --kind of the values")
        try:
            if md.name == EXCHANGE_NAME and md.kinds:
                ExchangeFile(bf).verify_tokenizer(tok)
            elif md.key_id != tok.key_id:
                raise InvalidParameter(f"key id mismatch: file {md.key_id}, key {tok.key_id}")
        except InvalidParameter as exc:
            raise CliError(ExitCode.INVALID_INPUT, f"{args.file}: {exc}") from None
        return lambda v: tok.token(kind, v, default_region=region)
    if tok is not None:
        raise CliError(ExitCode.USAGE, f"{args.file} is an unkeyed filter: drop --key-file")
    if md.canon_version is not None and kind is not None and md.canon_version != CANON_VERSION:
        raise CliError(
            ExitCode.INVALID_INPUT,
            f"{args.file} uses canon version {md.canon_version}, this is {CANON_VERSION}",
        )
    if kind is None:
        return lambda v: v.encode("utf-8")
    return lambda v: canonicalize(kind, v, default_region=region).encode("utf-8")


def _read_items(
    args: argparse.Namespace, make: Callable[[str], bytes], msgs: Messages
) -> tuple[list[str], list[bytes], int]:
    values: list[str] = []
    items: list[bytes] = []
    invalid = 0
    stream = open_input(args.src)
    try:
        for n, text in iter_input_lines(stream):
            try:
                if text is None:
                    raise InvalidIndicator(args.kind or "value", "not valid UTF-8")
                if not text and args.kind is None:
                    continue  # a blank line is not a value of an unkeyed, uncanonicalized filter
                items.append(make(text))
            except InvalidIndicator as exc:
                invalid += 1
                msgs.line_problem(f"line {n}: {exc}", quiet_ok=args.skip_invalid)
                continue
            values.append(text)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    msgs.flush_suppressed()
    if invalid and not args.skip_invalid:
        raise CliError(ExitCode.INVALID_INPUT, f"{invalid} invalid line(s) (--skip-invalid leaves them out)")
    return values, items, invalid


def run_insert(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    loaded = _load(args.file)
    make = _item_maker(args, loaded, msgs)
    _, items, invalid = _read_items(args, make, msgs)
    bf = loaded.filter
    if args.kind and loaded.fmt == "native" and args.kind not in bf.metadata.kinds:
        bf.metadata = dataclasses.replace(
            bf.metadata, kinds=(*bf.metadata.kinds, args.kind), canon_version=CANON_VERSION
        )
    try:
        new = bf.update(items)
    except CapacityError as exc:
        raise CliError(ExitCode.LOCAL, f"{args.file}: {exc} (nothing was inserted)") from None
    _save(args.file, loaded, gzip=args.gzip)
    msgs.info(
        f"inserted {new} new value(s) ({len(items) - new} already present"
        + (f", {invalid} invalid left out" if invalid else "")
        + f"); now {len(bf)} values"
    )
    return ExitCode.OK


def run_check(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    loaded = _load(args.file)
    make = _item_maker(args, loaded, msgs)
    values, items, _ = _read_items(args, make, msgs)
    hits = loaded.filter.contains_many(items).tolist() if items else []
    out = sys.stdout.buffer
    found = 0
    for v, hit in zip(values, hits, strict=True):
        if hit:
            out.write(v.encode("utf-8") + b"\n")
            found += 1
    out.flush()
    fpr = loaded.filter.expected_fpr()
    msgs.info(f"{found} of {len(values)} value(s) probably present (each false with chance about {fpr:.2g})")
    return ExitCode.OK if found else ExitCode.NO_MATCH


def run_join(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    loaded = [_load(p) for p in args.inputs]
    first = loaded[0]
    acc = first.filter.copy()
    for path, other in zip(args.inputs[1:], loaded[1:], strict=True):
        if other.fmt != first.fmt:
            raise CliError(ExitCode.INVALID_INPUT, f"{path} is {other.fmt}, {args.inputs[0]} is {first.fmt}")
        if other.filter.metadata.key_id != acc.metadata.key_id:
            raise CliError(ExitCode.INVALID_INPUT, f"{path} was made under another token key")
        try:
            acc |= other.filter
        except InvalidParameter as exc:
            raise CliError(ExitCode.INVALID_INPUT, f"{path}: {exc}") from None
        except CapacityError as exc:
            raise CliError(ExitCode.LOCAL, str(exc)) from None
    _save(args.out, _Loaded(first.fmt, acc, first.gzipped, first.dcso_data), gzip=args.gzip)
    msgs.info(f"wrote {args.out}: the union of {len(loaded)} filters, about {len(acc)} values")
    return ExitCode.OK


def run_show(args: argparse.Namespace) -> int:
    loaded = _load(args.file)
    bf = loaded.filter
    md = bf.metadata
    rows = [
        ("format", loaded.fmt + (" (gzip)" if loaded.gzipped else "")),
        ("hash scheme", bf.scheme),
        ("bits (m)", f"{bf.m} ({bf.nbytes} bytes)"),
        ("hash functions (k)", str(bf.k)),
        ("capacity", str(bf.capacity)),
        ("target fpr", f"{bf.fpr:g}"),
        ("values inserted", str(len(bf))),
        ("estimated values", f"{bf.estimated_count():.0f}"),
        ("fill ratio", f"{bf.fill_ratio:.4f}"),
        ("current fpr", f"{bf.expected_fpr():.3g}"),
    ]
    if loaded.fmt == "native":
        rows += [
            ("keyed", f"yes, key id {md.key_id}" if md.key_id else "no"),
            ("canon version", str(md.canon_version) if md.canon_version is not None else "-"),
            ("kinds", ", ".join(md.kinds) or "-"),
            ("token algorithm", md.algorithm or "-"),
            ("context", (md.context or b"").decode("utf-8", "replace") or "-"),
            ("description", md.description or "-"),
        ]
    else:
        rows.append(("trailing data", f"{len(loaded.dcso_data)} bytes"))
    if args.json:
        print(json.dumps(_show_json(loaded), indent=2))
        return ExitCode.OK
    for name, value in rows:
        print(f"{name:20s} {value}")
    return ExitCode.OK


def _show_json(loaded: _Loaded) -> dict[str, object]:
    bf = loaded.filter
    md = bf.metadata
    doc: dict[str, object] = {
        "format": loaded.fmt, "gzip": loaded.gzipped, "scheme": bf.scheme, "bits": bf.m, "bytes": bf.nbytes,
        "hash_functions": bf.k, "capacity": bf.capacity, "target_fpr": bf.fpr, "values_inserted": len(bf),
        "estimated_values": round(bf.estimated_count()), "fill_ratio": bf.fill_ratio,
        "current_fpr": bf.expected_fpr(),
    }  # fmt: skip
    if loaded.fmt == "native":
        doc.update(
            key_id=md.key_id, canon_version=md.canon_version, kinds=list(md.kinds), algorithm=md.algorithm,
            context=(md.context or b"").decode("utf-8", "replace") or None,
            description=md.description or None,
        )  # fmt: skip
    else:
        doc["trailing_data_bytes"] = len(loaded.dcso_data)
    return doc
