"""The audit options of the exchange commands (docs/audit.md, docs/cli.md): ``--audit-to AUDITOR.pub`` on
both roles, ``--audit-rate`` and ``--audit-deadline`` for the proposing side, and the line about a written
audit package."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InvalidParameter
from ..session import AuditTerms, InitiatorSession, PublicIdentity, ResponderSession
from ._common import positive_int
from .exitcodes import CliError, ExitCode

__all__ = [
    "AUDIT_SUFFIX",
    "DEFAULT_AUDIT_DAYS",
    "DEFAULT_AUDIT_RATE_PPM",
    "add_audit_policy_arg",
    "add_audit_proposal_args",
    "audit_auditor",
    "audit_line",
    "audit_terms",
    "audited_note",
    "read_public_key",
]

#: The defaults of ``--audit-rate`` and ``--audit-deadline`` (those of :class:`AuditTerms`).
DEFAULT_AUDIT_RATE_PPM = 10_000
DEFAULT_AUDIT_DAYS = 14
#: What an audit package file's name ends with, after the session's prefix.
AUDIT_SUFFIX = "audit.bmaudit"


def _audit_rate(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"a rate in parts per million is 0 to 1000000, not {value}")
    return value


def _audit_days(text: str) -> int:
    value = positive_int(text)
    if value > 366:
        raise argparse.ArgumentTypeError(f"at most 366 days, not {value}")
    return value


def audit_terms(args: argparse.Namespace) -> AuditTerms | None:
    """The proposal's audit terms (``--audit-to``, ``--audit-rate``, ``--audit-deadline``), or None."""
    if args.audit_to is None:
        if args.audit_rate is not None or args.audit_deadline is not None:
            raise CliError(ExitCode.USAGE, "--audit-rate and --audit-deadline need --audit-to AUDITOR.pub")
        return None
    auditor = read_public_key(args.audit_to, "--audit-to")
    rate = DEFAULT_AUDIT_RATE_PPM if args.audit_rate is None else int(args.audit_rate)
    days = DEFAULT_AUDIT_DAYS if args.audit_deadline is None else int(args.audit_deadline)
    try:
        return AuditTerms(auditor=auditor.raw, rate_ppm=rate, deadline_s=days * 86400)
    except InvalidParameter as exc:  # pragma: no cover - the argument types keep them in range
        raise CliError(ExitCode.USAGE, str(exc)) from None


def audited_note(audit: AuditTerms) -> str:
    """What an audited proposal names, for the operator (``--audit-to``)."""
    return (
        f"proposing an audited session: auditor {PublicIdentity(audit.auditor).fingerprint}, routine-audit "
        f"rate {audit.rate_ppm / 10_000:g}% per side, packages due within {audit.deadline_s / 86400:g} days"
    )


def audit_auditor(args: argparse.Namespace) -> PublicIdentity | None:
    """A responder's ``--audit-to``: the one auditor whose audited sessions it accepts, or None."""
    return None if args.audit_to is None else read_public_key(args.audit_to, "--audit-to")


def add_audit_proposal_args(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("audit (docs/audit.md)")
    a.add_argument("--audit-to", metavar="AUDITOR.pub",
                   help="propose an audited session: both sides escrow a sealed audit package to this "
                   "auditor (its public key file) when the session ends; the package is written beside the "
                   "record (<prefix>audit.bmaudit, mode 600)")  # fmt: skip
    a.add_argument("--audit-rate", type=_audit_rate, metavar="PPM",
                   help="routine-audit rate per side, in parts per million (default: "
                   f"{DEFAULT_AUDIT_RATE_PPM}, 1%%); needs --audit-to")  # fmt: skip
    a.add_argument("--audit-deadline", type=_audit_days, metavar="DAYS",
                   help=f"days after the session by which both packages must reach the auditor (default: "
                   f"{DEFAULT_AUDIT_DAYS}); needs --audit-to")  # fmt: skip


def add_audit_policy_arg(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--audit-to", metavar="AUDITOR.pub",
                   help="accept only audited sessions naming this auditor (its public key file), and escrow "
                   "a sealed audit package to it when each session ends (<prefix>audit.bmaudit, mode 600); "
                   "without it, audited proposals are refused (docs/audit.md)")  # fmt: skip
    g.add_argument("--min-audit-rate", type=_audit_rate, default=10_000, metavar="PPM",
                   help="the lowest routine-audit rate we accept in an audited proposal, in parts per "
                   "million (default: 10000 = 1%%; a rate of 0 would make our own coin useless)")  # fmt: skip


def read_public_key(path: str, option: str) -> PublicIdentity:
    """A public identity file (``FILE.pub`` as ``keygen`` writes it: ``blindmatch-ed25519:<hex>``), e.g.
    the auditor's ``AUDITOR.pub``; a private key given by mistake is named as such (exit 3)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 16)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    if b"PRIVATE KEY-----" in raw:
        raise CliError(
            ExitCode.INVALID_INPUT,
            f"{option}: {path} is a private key; give the public key file (AUDITOR.pub, from `keygen`)",
        )
    try:
        return PublicIdentity.from_text(raw.decode("ascii"))
    except (UnicodeDecodeError, InvalidParameter, ValueError):
        raise CliError(
            ExitCode.INVALID_INPUT,
            f"{option}: {path} does not hold a public key (blindmatch-ed25519:..., as `keygen` writes "
            "FILE.pub)",
        ) from None


def audit_line(party: InitiatorSession | ResponderSession, paths: list[Path]) -> str | None:
    """One line about the audit package just written (None when the session made none): where it is, and
    whether our routine-audit coin selected the session (docs/audit.md, "Routine audits")."""
    package = next((p for p in paths if p.name.endswith(AUDIT_SUFFIX)), None)
    m = party.manifest
    if package is None or m is None or m.audit is None:
        return None
    days = m.audit.deadline_s / 86400
    within = f"{days:g} day{'' if days == 1 else 's'}"
    if party.selected_for_audit:
        what = f"selected for a routine audit: hand both packages to the auditor within {within}"
    else:
        what = (
            f"not selected by our routine-audit coin: keep it for {within} in case the peer's coin selects "
            "the session or either side asks for an audit"
        )
    return f"wrote the audit package {package} (mode 600, sealed to the auditor); {what}"
