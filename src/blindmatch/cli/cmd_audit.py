"""``audit``: the auditor opens both sides' sealed packages, re-executes each side from its committed seed
and set, checks the records, and writes a signed report (docs/audit.md); ``audit --verify`` checks one.

The library does the work (:func:`blindmatch.audit.audit`); this module reads the files, keeps the history
of seed digests (``--history``, JSON lines) and turns the result into files, lines and an exit code: 0
clean, :attr:`ExitCode.FINDINGS` when a side deviated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

from .._fileio import atomic_write, check_regular_target, read_capped
from ..errors import FileAccessError, MalformedFile
from ..session import Identity, InvalidAuditPackage, PublicIdentity
from ..session.audit_package import MAX_PACKAGE_BYTES, open_package
from ._common import Messages
from ._session_io import load_identity, read_public_key
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
        "audit report. Exit 0: clean; 6: findings. With --verify: check a signed audit report. See "
        "docs/audit.md.",
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


def _api() -> Any:
    """:mod:`blindmatch.audit`, imported when used (a clear error when this build lacks it)."""
    import importlib

    try:
        return importlib.import_module("blindmatch.audit")
    except ImportError:
        raise CliError(ExitCode.INTERNAL, "this blindmatch has no audit library (blindmatch.audit)") from None


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


def _package_role(data: bytes) -> str | None:
    """The role a package's wrapper names (for the history), or None when it is no JSON object."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    role = doc.get("role") if isinstance(doc, dict) else None
    return role if isinstance(role, str) else None


def _unopenable(paths: Sequence[str], packages: Sequence[bytes], auditor: Identity, exc: Exception) -> str:
    """Name the package that does not open (the library's error does not know file names)."""
    for path, data in zip(paths, packages, strict=True):
        try:
            open_package(data, auditor)
        except InvalidAuditPackage as bad:
            return f"{path}: {bad}"
    return str(exc)


def _run_audit(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    _check_target(args.out, "--out")
    if args.history is not None:
        _check_target(args.history, "--history")
    auditor = load_identity(args.identity)
    packages = [_read(p, MAX_PACKAGE_BYTES, "audit package") for p in args.packages]
    records = [_read(r, MAX_DOC_BYTES, "record").decode("utf-8", errors="replace") for r in args.record]
    hashes = {hashlib.sha256(p).hexdigest() for p in packages}
    history = _History(args.history) if args.history is not None else None
    seen = history.seen(excluding=hashes) if history is not None else set()
    api = _api()
    try:
        report = api.audit(auditor, packages, records, now=time.time(), seen_seeds=seen)
    except InvalidAuditPackage as exc:
        which = _unopenable(args.packages, packages, auditor, exc)
        raise CliError(ExitCode.PEER, f"{which} (nothing audited)") from None
    signed = api.sign_audit_report(auditor, report)
    data = (json.dumps(signed, indent=2, sort_keys=True) + "\n").encode("utf-8")
    atomic_write(args.out, data, mode=0o600)
    if history is not None:
        roles = {_package_role(p): hashlib.sha256(p).hexdigest() for p in packages}
        history.append(report, roles)
    if args.json:
        print(json.dumps(signed, indent=2, sort_keys=True))
    else:
        for line in _report_lines(report):
            msgs.out(line)
        msgs.out(f"  wrote {args.out}")
        if history is not None:
            msgs.out(f"  seed digests added to {args.history}")
    return ExitCode.OK if report.clean else ExitCode.FINDINGS


def _report_lines(report: Any) -> list[str]:
    doc = report.to_dict()
    sid = doc.get("session_id")
    head = f"audit of session {sid}" if isinstance(sid, str) else "audit"
    findings = [f for side in report.sides.values() for f in side.findings]
    if report.clean:
        sides = ", ".join(sorted(report.sides))
        return [f"{head}: clean ({sides} re-executed byte for byte from what they committed to)"]
    lines = [f"{head}: {len(findings)} finding(s)"]
    for f in findings:
        at = f" at message {f.message_index}" if f.message_index is not None else ""
        gain = f" (could gain: {f.could_gain})" if f.could_gain else ""
        lines.append(f"  {f.role}: {f.code}{at}: {f.detail}{gain}")
    return lines


class _History:
    """``--history``: one JSON object per line, ``{"format", "seed_digest", "role", "session_id",
    "package_sha256", "audited_at"}``. A seed digest counts as seen unless it comes from one of the
    packages audited now (auditing the same packages again is no reuse)."""

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
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
                bytes.fromhex(entry["seed_digest"])
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    ExitCode.INVALID_INPUT, f"{path}: line {n} is not a history entry (seed_digest in hex)"
                ) from None
            self.entries.append(entry)

    def seen(self, *, excluding: set[str]) -> set[bytes]:
        return {
            bytes.fromhex(e["seed_digest"]) for e in self.entries if e.get("package_sha256") not in excluding
        }

    def append(self, report: Any, packages: dict[str | None, str]) -> None:
        known = {(e.get("package_sha256"), e.get("seed_digest")) for e in self.entries}
        doc = report.to_dict()
        sid = doc.get("session_id")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        new: list[dict[str, Any]] = []
        for role, side in sorted(report.sides.items()):
            digest = getattr(side, "seed_digest", None)
            if not digest:
                continue
            entry = {
                "format": HISTORY_FORMAT, "seed_digest": bytes(digest).hex(), "role": role,
                "session_id": sid, "package_sha256": packages.get(role), "audited_at": stamp,
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
    public: PublicIdentity = read_public_key(args.auditor, "--auditor")
    raw = _read(args.verify, MAX_DOC_BYTES, "audit report")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise CliError(ExitCode.PEER, f"{args.verify}: not a JSON audit report") from None
    api = _api()
    body = api.verify_audit_report(doc, public)  # a report that does not verify raises (exit 4)
    if args.json:
        print(json.dumps(body, indent=2, sort_keys=True))
        return ExitCode.OK
    clean = body.get("clean") if isinstance(body, dict) else None
    sid = body.get("session_id") if isinstance(body, dict) else None
    verdict = "clean" if clean is True else "with findings" if clean is False else "verdict unknown"
    what = f" of session {sid}" if isinstance(sid, str) else ""
    msgs.out(f"{args.verify}: a valid audit report{what} ({verdict}), signed by {public.fingerprint}")
    return ExitCode.OK
