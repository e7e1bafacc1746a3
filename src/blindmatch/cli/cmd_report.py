"""``report html``: a local report or a merged round report as one self-contained HTML page.

The report's format is detected; the disclosure records are found next to it (``<prefix>record.json``
beside ``<prefix>report.json``; a round report names each pair's record relative to its folder). A record
that cannot be read is shown as such on the page, never fatal. The page is written atomically, mode 0600:
like the report, it lists indicator values.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TypeAlias

from .._fileio import atomic_write, read_capped
from .._strictjson import DuplicateKeyError, object_without_duplicates
from ..errors import BlindmatchError, FileAccessError, MalformedFile
from ..outputs import MissingRecord, exchange_html, report_kind, round_html
from ..session import PublicIdentity
from ._common import Messages
from ._session_io import load_peers
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers", "find_record", "read_record"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_MAX_REPORT = 1 << 30
_MAX_RECORD = 1 << 20


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        parents=[common],
        help="turn a local or round report into a self-contained HTML page",
        description="Turn reports into pages for people to read (docs/html-report.md).",
    )
    rsub = p.add_subparsers(dest="report_command", metavar="COMMAND", required=True)
    h = rsub.add_parser(
        "html",
        parents=[common],
        help="write a report (local or round) as one HTML page with charts and the records in plain words",
        description="Write INPUT (a local report, blindmatch-local-report/2, or a round report, "
        "blindmatch-round-report/1) as one self-contained HTML page: no script, no external resource, a "
        "strict Content-Security-Policy. Disclosure records next to the report are shown in plain words; "
        "their signatures are checked against --key and --peers (else shown as not checked). The page "
        "lists indicator values: it is written with mode 600; keep it local.",
    )
    h.add_argument("input", metavar="INPUT.json", help="the report")
    h.add_argument("-o", "--out", required=True, metavar="OUT.html", help="where to write the page")
    h.add_argument("--record", metavar="FILE",
                   help="a local report's record (default: <prefix>record.json beside "
                   "<prefix>report.json)")  # fmt: skip
    h.add_argument("--key", action="append", default=[], metavar="FILE.pub",
                   help="a public key that signed records (e.g. our identity's FILE.pub); "
                   "repeatable")  # fmt: skip
    h.add_argument("--peers", metavar="FILE", help="also check records signed by any key of this trust store")
    h.set_defaults(func=run_html)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data, object_pairs_hook=object_without_duplicates)
    except DuplicateKeyError:
        raise MalformedFile("a JSON object repeats a key") from None
    except (ValueError, RecursionError) as exc:
        raise MalformedFile(f"not JSON ({type(exc).__name__})") from None


def read_record(path: Path) -> dict[str, Any] | MissingRecord:
    """A record file as a dict, or a :class:`MissingRecord` saying why it cannot be shown."""
    if not path.is_file():
        return MissingRecord(f"no record file {path.name}")
    try:
        doc = _json(read_capped(path, _MAX_RECORD, what="record"))
    except BlindmatchError as exc:
        return MissingRecord(f"{path.name}: {exc}")
    if not isinstance(doc, dict):
        return MissingRecord(f"{path.name}: a record is a JSON object")
    return doc


def find_record(folder: Path, relative: str) -> dict[str, Any] | MissingRecord:
    """The record a round report names (a path relative to its folder, which it may not leave)."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts or not relative or "\x00" in relative:
        return MissingRecord("the record path leaves the report's folder")
    base = folder.resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base):
        return MissingRecord("the record path leaves the report's folder")
    return read_record(target)


def _keys(args: argparse.Namespace) -> list[PublicIdentity]:
    keys = []
    for name in args.key:
        try:
            text = read_capped(name, 4096, what="public key file").decode("utf-8", "replace")
            keys.append(PublicIdentity.from_text(text))
        except FileAccessError as exc:
            raise CliError(ExitCode.LOCAL, str(exc)) from None
        except (BlindmatchError, ValueError) as exc:
            raise CliError(ExitCode.INVALID_INPUT, f"{name}: {exc}") from None
    if args.peers:
        keys += [p.public for p in load_peers(args.peers)]
    return keys


def _local_record(args: argparse.Namespace, src: Path) -> dict[str, Any] | MissingRecord:
    if args.record:
        return read_record(Path(args.record))
    if not src.name.endswith("report.json"):
        return MissingRecord("no record given (--record) and the report's name does not end in report.json")
    return read_record(src.with_name(src.name[: -len("report.json")] + "record.json"))


def _page(args: argparse.Namespace, src: Path, doc: Any) -> str:
    keys = _keys(args)
    if report_kind(doc) == "exchange":
        return exchange_html(doc, _local_record(args, src), keys=keys)
    labs = doc.get("labs") if isinstance(doc.get("labs"), list) else []
    records = {
        lab["name"]: find_record(src.parent, lab["record"])
        for lab in labs
        if isinstance(lab, dict) and isinstance(lab.get("name"), str) and isinstance(lab.get("record"), str)
    }
    return round_html(doc, records, keys=keys)


def run_html(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    src = Path(args.input)
    try:
        doc = _json(read_capped(src, _MAX_REPORT, what="report"))
        page = _page(args, src, doc)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{src}: {exc}") from None
    try:
        out = atomic_write(args.out, page.encode("utf-8"), mode=0o600)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    msgs.info(f"wrote {out} (local only: it lists indicator values)")
    return ExitCode.OK
