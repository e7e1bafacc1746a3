"""``blindmatch canon`` and ``blindmatch token``: stdin lines to canonical lines or hex tokens."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..canonical import CANON_VERSION, CANON_VERSIONS, KINDS, canonicalize, kinds_of
from ..errors import InvalidIndicator, InvalidParameter
from ..tokens import Tokenizer
from ._common import Messages, iter_input_lines, open_input, read_token_key
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]


_ALL_KINDS = tuple(dict.fromkeys(k for v in CANON_VERSIONS for k in kinds_of(v)))


def _add_common(p: argparse.ArgumentParser, kinds: tuple[str, ...] = KINDS) -> None:
    p.add_argument("--kind", required=True, choices=kinds, metavar="KIND", help=f"one of: {', '.join(kinds)}")
    p.add_argument("--default-region", metavar="CC", help="region for national phone numbers (e.g. US)")
    p.add_argument("--skip-invalid", action="store_true", help="leave invalid lines out and exit 0")
    p.add_argument("input", nargs="?", default="-", help="input file (default: standard input)")


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "canon",
        parents=[common],
        help="canonicalize indicators, one per line",
        description="Read one indicator per line and print its canonical form (canon version 1, or the "
        "one --canon-version names).",
    )
    _add_common(p, _ALL_KINDS)
    p.add_argument("--canon-version", type=int, choices=CANON_VERSIONS, default=CANON_VERSION, metavar="N",
                   help="canon version (default: 1; 2 adds crypto-address, card, iban, org and "
                   "platform-aware accounts)")  # fmt: skip
    p.set_defaults(func=run_canon)
    t = sub.add_parser(
        "token",
        parents=[common],
        help="keyed tokens of indicators, one per line (hex)",
        description="Read one indicator per line and print its keyed token in hex.",
    )
    _add_common(t)
    t.add_argument("--key-file", required=True, help="file holding the shared key in hex (>= 16 bytes)")
    t.add_argument("--context", default="", help="context string separating uses of one key")
    t.add_argument("--algorithm", choices=("hmac-sha256", "blake2b"), default="hmac-sha256")
    t.set_defaults(func=run_token)


def _run_lines(args: argparse.Namespace, convert: Callable[[str], str]) -> int:
    msgs = Messages(args.quiet)
    out = sys.stdout.buffer
    invalid = 0
    stream = open_input(args.input)
    try:
        for n, text in iter_input_lines(stream):
            try:
                if text is None:
                    raise InvalidIndicator(args.kind, "not valid UTF-8")
                result = convert(text)
            except InvalidIndicator as exc:
                invalid += 1
                msgs.line_problem(f"line {n}: {exc}", quiet_ok=args.skip_invalid)
                continue
            out.write(result.encode("utf-8") + b"\n")
        out.flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    msgs.flush_suppressed()
    if invalid and not args.skip_invalid:
        raise CliError(
            ExitCode.INVALID_INPUT, f"{invalid} invalid line(s) (use --skip-invalid to ignore them)"
        )
    if invalid:
        msgs.info(f"skipped {invalid} invalid line(s)")
    return ExitCode.OK


def run_canon(args: argparse.Namespace) -> int:
    kind, region, version = args.kind, args.default_region, args.canon_version
    if kind not in kinds_of(version):
        hint = " (try --canon-version 2)" if kind in kinds_of(2) else ""
        raise CliError(ExitCode.USAGE, f"kind {kind} is not in canon version {version}{hint}")
    return _run_lines(args, lambda v: canonicalize(kind, v, default_region=region, version=version))


def run_token(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    key = read_token_key(args.key_file, msgs)
    try:
        tok = Tokenizer(key, context=args.context.encode("utf-8"), algorithm=args.algorithm)
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    kind, region = args.kind, args.default_region
    return _run_lines(args, lambda v: tok.token(kind, v, default_region=region).hex())
