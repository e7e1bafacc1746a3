"""``audit``: the auditor opens both sides' sealed packages, re-executes each side from its committed seed
and set, checks the records, and writes a signed report (docs/audit.md); ``audit --verify`` checks one.

The library does the work (:func:`blindmatch.audit`, ``blindmatch.auditing``); this module reads the files,
keeps the history of seed and element digests (``--history``, JSON lines) and turns the result into files,
lines and an exit code: 0 clean, :attr:`ExitCode.AUDIT_FINDINGS` when a side deviated,
:attr:`ExitCode.AUDIT_PENDING` when a side's package is still awaited.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

from .._fileio import atomic_write, check_regular_target, read_capped
from ..auditing import AuditReport, audit, sign_audit_report, verify_audit_report
from ..errors import FileAccessError, MalformedFile
from ..session import InvalidAuditPackage
from ..session.audit_package import MAX_PACKAGE_BYTES, PackageHeader, read_package_header
from ._audit_args import read_public_key
from ._common import Messages
from ._session_io import load_identity
from .exitcodes import CliError, ExitCode

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: The largest record or report read (records are a few KiB; reports list findings).
MAX_DOC_BYTES = 1 << 24
#: The largest history file read (one short line per audited side).
MAX_HISTORY_BYTES = 1 << 28
HISTORY_FORMAT = "blindmatch-audit-history"


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    a = sub.add_parser(
        "audit",
        parents=[common],
        help="audit an audited session from its packages and records (auditor), or verify a report",
        description="As the auditor: open the sealed audit packages of one session (one per side), "
        "re-execute each side from the seed and set it committed to, check the records, and write the signed "
        "audit report. Exit 0: clean; 6: findings; 7: a package still awaited. With --verify: check a "
        "signed audit report. See docs/audit.md.",
    )
    a.add_argument("packages", nargs="*", metavar="PACKAGE",
                   help="the session's audit packages (<prefix>audit.bmaudit), one per side")  # fmt: skip
    a.add_argument("--identity", metavar="AUDITOR.pem", help="the auditor's identity key (the packages open "
                   "only with it; it signs the report)")  # fmt: skip
    a.add_argument("--record", action="append", default=[], metavar="RECORD",
                   help="a side's signed record (<prefix>record.json), repeatable; each names its "
                   "package's SHA-256")  # fmt: skip
    a.add_argument("--history", metavar="FILE",
                   help="JSON lines of the seed digests of earlier audits: a seed seen in another session "
                   "is a finding; this audit's digests are appended (created, mode 600, if missing)",
                   )  # fmt: skip
    a.add_argument("--out", metavar="REPORT.json", help="where the signed audit report goes (mode 600)")
    a.add_argument("--json", action="store_true", help="print the signed report (JSON) on standard output")
    a.add_argument("--verify", metavar="REPORT.json",
                   help="instead: verify a signed audit report (with --auditor)")  # fmt: skip
    a.add_argument("--auditor", metavar="AUDITOR.pub",
                   help="with --verify: the auditor's public key file the report must be signed by",
                   )  # fmt: skip
    a.set_defaults(func=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    if args.verify is not None:
        return _run_verify(args)
    if args.auditor is not None:
        raise CliError(ExitCode.USAGE, "--auditor goes with --verify; an audit takes --identity AUDITOR.pem")
    if args.identity is None:
        raise CliError(ExitCode.USAGE, "give the auditor's identity: --identity AUDITOR.pem")
    if not 1 <= len(args.packages) <= 2:
        raise CliError(ExitCode.USAGE, "give the session's audit packages: one or two PACKAGE files")
    if args.out is None:
        raise CliError(ExitCode.USAGE, "give where the report goes: --out REPORT.json")
    return _run_audit(args)


# -- the audit ---------------------------------------------------------------------------------------------


def _read(path: str, limit: int, what: str) -> bytes:
    try:
        return read_capped(path, limit, what=what)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, str(exc)) from None


def _check_target(path: str, option: str) -> None:
    try:
        check_regular_target(path)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, f"{option}: {exc}") from None


def _headers(paths: Sequence[str], packages: Sequence[bytes]) -> list[PackageHeader]:
    """Each package's form and author signature, checked before the audit so that a tampered or forged
    file is named (exit 4); what the audit itself finds (a package that does not open for us, ...) is in
    the report."""
    heads = []
    for path, data in zip(paths, packages, strict=True):
        try:
            heads.append(read_package_header(data))
        except InvalidAuditPackage as exc:
            raise CliError(ExitCode.PEER, f"{path}: {exc} (nothing audited)") from None
    return heads


def _run_audit(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    _check_target(args.out, "--out")
    if args.history is not None:
        _check_target(args.history, "--history")
    auditor = load_identity(args.identity)
    packages = [_read(p, MAX_PACKAGE_BYTES, "audit package") for p in args.packages]
    heads = _headers(args.packages, packages)
    records = [_read(r, MAX_DOC_BYTES, "record").decode("utf-8", errors="replace") for r in args.record]
    history = _History(args.history) if args.history is not None else None
    now_hashes = {h.sha256.hex() for h in heads}
    seeds, elements = history.seen(excluding=now_hashes) if history is not None else (set(), set())
    try:
        report = audit(auditor, packages, records, seen_seeds=seeds, seen_elements=elements)
    except InvalidAuditPackage as exc:
        raise CliError(ExitCode.PEER, f"{exc} (nothing audited)") from None
    signed = sign_audit_report(auditor, report)
    data = (json.dumps(signed, indent=2, sort_keys=True) + "\n").encode("utf-8")
    atomic_write(args.out, data, mode=0o600)
    if history is not None:
        history.append(report, {h.role: h.sha256.hex() for h in heads})
    if args.json:
        print(json.dumps(signed, indent=2, sort_keys=True))
    else:
        for line in _report_lines(report):
            msgs.out(line)
        msgs.out(f"  wrote {args.out}")
        if history is not None:
            msgs.out(f"  seed digests and element sketches kept in {args.history}")
    return _exit_code(report.verdict)


def _exit_code(verdict: str) -> ExitCode:
    if verdict == "clean":
        return ExitCode.OK
    if verdict == "pending":
        return ExitCode.AUDIT_PENDING
    return ExitCode.AUDIT_FINDINGS


def _report_lines(report: AuditReport) -> list[str]:
    head = f"audit of session {report.session_id.hex()} ({report.mode})"
    if report.verdict == "clean":
        return [f"{head}: clean (both sides re-executed byte for byte from what they committed to)"]
    lines = [f"{head}: {report.verdict}"]
    for role, side in sorted(report.sides.items()):
        if side.status == "pending":
            lines.append(f"  {role}: pending (no package yet; its deadline has not passed)")
        elif side.status == "clean":
            lines.append(f"  {role}: clean")
        for f in side.findings:
            at = f" at message {f.message_index}" if f.message_index is not None else ""
            gain = f" (could gain: {f.could_gain})" if f.could_gain else ""
            lines.append(f"  {role}: {f.code}{at}: {f.detail}{gain}")
    return lines


class _History:
    """``--history``: JSON lines, one per audited side, ``{"format", "seed_digest", "element_sketch",
    "role", "session_id", "package_sha256", "audited_at"}`` (digests only: no seed, item or element).
    Entries of the packages audited now do not count as seen (auditing the same packages again is no
    reuse)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.entries: list[dict[str, Any]] = []
        if not self.path.exists():
            return
        raw = _read(path, MAX_HISTORY_BYTES, "history file")
        for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict) or entry.get("format") != HISTORY_FORMAT:
                    raise ValueError("not a history entry")
                bytes.fromhex(entry["seed_digest"])
                for d in entry.get("element_sketch", []):
                    bytes.fromhex(d)
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    ExitCode.INVALID_INPUT, f"{path}: line {n} is not an audit history entry"
                ) from None
            self.entries.append(entry)

    def seen(self, *, excluding: set[str]) -> tuple[set[bytes], set[bytes]]:
        """The seed digests and element digests of earlier audits."""
        seeds: set[bytes] = set()
        elements: set[bytes] = set()
        for e in self.entries:
            if e.get("package_sha256") in excluding:
                continue
            seeds.add(bytes.fromhex(e["seed_digest"]))
            elements.update(bytes.fromhex(d) for d in e.get("element_sketch", []))
        return seeds, elements

    def append(self, report: AuditReport, packages: dict[str, str]) -> None:
        known = {(e.get("package_sha256"), e.get("seed_digest")) for e in self.entries}
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        new: list[dict[str, Any]] = []
        for role, side in sorted(report.sides.items()):
            if side.seed_digest is None:
                continue
            entry = {
                "format": HISTORY_FORMAT, "seed_digest": side.seed_digest.hex(),
                "element_sketch": [d.hex() for d in side.sketch], "role": role,
                "session_id": report.session_id.hex(), "package_sha256": packages.get(role),
                "audited_at": stamp,
            }  # fmt: skip
            if (entry["package_sha256"], entry["seed_digest"]) not in known:
                new.append(entry)
        if not new:
            return
        old = self.path.read_bytes() if self.path.exists() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        lines = b"".join(json.dumps(e, sort_keys=True).encode("utf-8") + b"\n" for e in new)
        atomic_write(self.path, old + lines, mode=0o600)
        self.entries += new


# -- verifying a report ---------------------------------------------------------------------------------


def _run_verify(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    if args.packages or args.record or args.identity or args.history or args.out:
        raise CliError(ExitCode.USAGE, "--verify REPORT.json takes only --auditor AUDITOR.pub (and --json)")
    if args.auditor is None:
        raise CliError(ExitCode.USAGE, "--verify needs the auditor's public key: --auditor AUDITOR.pub")
    public = read_public_key(args.auditor, "--auditor")
    raw = _read(args.verify, MAX_DOC_BYTES, "audit report")
    try:
        body = verify_audit_report(raw, public)
    except MalformedFile as exc:  # InvalidAuditReport: altered, forged, another auditor's, not a report
        raise CliError(ExitCode.PEER, f"{args.verify}: {exc}") from None
    if args.json:
        print(json.dumps(body, indent=2, sort_keys=True))
        return ExitCode.OK
    msgs.out(
        f"{args.verify}: a valid audit report of session {body.get('session_id')}, verdict "
        f"{body.get('verdict')}, signed by the auditor {public.fingerprint}"
    )
    return ExitCode.OK
