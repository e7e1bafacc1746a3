"""What the exchange commands (``psi``, ``serve``, ``connect``) share: the input options (read through
:class:`~blindmatch.IndicatorSet`), identities and peers, the responder policy, and writing the report and
the record."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._fileio import atomic_write
from ..canonical import CANON_VERSION, CANON_VERSIONS, kinds_of
from ..errors import InputUnreadable, InvalidParameter, LocalError, MalformedFile
from ..fingerprints import BAND_KIND, PROFILES, max_band_items
from ..indicator_set import IndicatorSet, InputSpec, PsiItems
from ..inputs import FORMATS
from ..outputs import LocalReport, exchange_html
from ..session import (
    DEFAULT_PADDINGS,
    MODES,
    PADDING_RULES,
    Identity,
    InitiatorSession,
    PeerStore,
    Policy,
    PublicIdentity,
    ResponderSession,
)
from ..session.manifest import OT_PSI_SUITE, PSI_SUITE, STREAM_OT_PSI_SUITE, STREAM_PSI_SUITE
from ..transport import SessionBudget, SessionBudgetExceeded
from ._audit_args import AUDIT_SUFFIX, add_audit_policy_arg, add_audit_proposal_args, audit_auditor
from ._common import Messages, add_deprecated_alias, positive_int
from .exitcodes import CliError, ExitCode
from .progress import Progress

__all__ = [
    "BudgetPolicy",
    "add_identity_args",
    "add_input_args",
    "add_near_duplicates_arg",
    "add_policy_args",
    "add_proposal_args",
    "build_policy",
    "check_cap",
    "check_out_dir",
    "check_own_cap",
    "finish_outputs",
    "input_spec",
    "load_identity",
    "load_inputs",
    "load_peers",
    "read_inputs",
    "session_items",
    "write_outputs",
]


# -- inputs ---------------------------------------------------------------------------------------------

#: Every kind of every canon version (whether a kind is known is then the chosen version's business).
ALL_KINDS: tuple[str, ...] = tuple(dict.fromkeys(k for v in CANON_VERSIONS for k in kinds_of(v)))


def add_input_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    g = p.add_argument_group("our indicators")
    g.add_argument("--input", "-i", action="append", required=required, metavar="FILE",
                   help="indicator file (repeatable); see docs/input-formats.md")  # fmt: skip
    g.add_argument("--format", choices=("auto", *FORMATS), default="auto", help="default: auto")
    g.add_argument("--kind", choices=ALL_KINDS, metavar="KIND",
                   help="kind of plain lines, or of a CSV --column")  # fmt: skip
    g.add_argument("--column", help="CSV column holding the values (with --kind)")
    g.add_argument("--kinds", help="only these kinds take part (comma-separated; default: every kind read)")
    g.add_argument("--default-region", metavar="CC", help="region for national phone numbers (e.g. US)")
    g.add_argument("--misp-text", action="store_true",
                   help="also offer MISP free-text attributes (type text) as indicators (default: counted as "
                   "ignored misp:text; section names, descriptions and blobs match by accident)")  # fmt: skip
    g.add_argument("--refang", action=argparse.BooleanOptionalAction, default=None,
                   help="undo defanging (hxxp://evil[.]com) in url, domain, ip, cidr and email values "
                   "(default: in plain lines, CSV and JSON lines; not in STIX or MISP JSON)")  # fmt: skip
    g.add_argument("--skip-invalid", action="store_true",
                   help="leave out indicators that do not canonicalize (default: stop, exit 3)")  # fmt: skip
    g.add_argument("--exclude", action="append", default=[], metavar="LIST",
                   help="leave out benign values before the exchange: 'shipped' (reserved and documentation "
                   "address ranges, large free-mail domains) or KIND=FILE (one value or range a line); "
                   "repeatable; counted as ignored (docs/exclusions.md)")  # fmt: skip
    g.add_argument("--canon-version", type=int, choices=CANON_VERSIONS, default=CANON_VERSION, metavar="N",
                   help="the canon version to canonicalize under (default: 1; 2 adds crypto-address, card, "
                   "iban, org and platform-aware accounts; both sides must use the same, docs/"
                   "canonicalization.md)")  # fmt: skip


def _kinds_option(text: str | None) -> set[str] | None:
    if not text:
        return None
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    bad = sorted(kinds - set(ALL_KINDS))
    if bad:
        raise CliError(ExitCode.USAGE, f"unknown kind(s) in --kinds: {', '.join(bad)}")
    return kinds


def input_spec(args: argparse.Namespace) -> InputSpec:
    """The input options as an :class:`InputSpec` (paths made absolute, so later steps find them)."""
    try:
        return InputSpec.of(
            args.input, fmt=args.format, kind=args.kind, column=args.column, kinds=_kinds_option(args.kinds),
            default_region=args.default_region, errors="skip" if args.skip_invalid else "raise",
            misp_text=args.misp_text, refang=args.refang, canon_version=args.canon_version,
            exclude=args.exclude,
        )  # fmt: skip
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None


class _FileBars:
    """``progress(source, done, total)`` of :class:`IndicatorSet` as one bar per input file."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet
        self._name: str | None = None
        self._bar: Progress | None = None

    def __call__(self, name: str, done: int, total: int) -> None:
        if name != self._name or self._bar is None:
            self.close()
            self._name = name
            self._bar = Progress(f"canonicalizing {Path(name).name}", total=total, quiet=self._quiet)
        self._bar(done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def read_inputs(spec: InputSpec, *, quiet: bool) -> IndicatorSet:
    """Read the inputs ``spec`` names, every invalid row counted (never raised); errors as exit codes."""
    bars = _FileBars(quiet)
    try:
        return IndicatorSet.from_spec(dataclasses.replace(spec, errors="skip"), progress=bars)
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, str(exc)) from None
    except InputUnreadable as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    finally:
        bars.close()


def load_inputs(args: argparse.Namespace, msgs: Messages, spec: InputSpec | None = None) -> IndicatorSet:
    """Read every ``--input``, canonicalize, and report unmapped and invalid entries by type and reason."""
    spec = input_spec(args) if spec is None else spec
    iset = read_inputs(spec, quiet=msgs.quiet)
    skip = spec.errors == "skip"
    n_invalid = sum(iset.invalid.values())
    if iset.unmapped:
        msgs.warn("entries with no kind of ours, not compared: "
                  + ", ".join(f"{k} x{n}" for k, n in iset.unmapped.items()))  # fmt: skip
    if n_invalid:
        for line in iset.problems:
            msgs.line_problem(line, quiet_ok=skip)
        if n_invalid > len(iset.problems) and not (skip and msgs.quiet):
            msgs.line_problem(f"... {n_invalid} invalid indicators in all", quiet_ok=skip)
        if not skip:
            raise CliError(
                ExitCode.INVALID_INPUT,
                f"{n_invalid} indicator(s) do not canonicalize (use --skip-invalid to leave them out)",
            )
    if not len(iset):
        raise CliError(ExitCode.INVALID_INPUT, "no usable indicators in the input")
    msgs.info(
        f"read {iset.rows} rows: {len(iset)} distinct indicators of {len(iset.kinds)} kind(s)"
        + (f", {n_invalid} invalid left out" if n_invalid else "")
        + (f", {sum(iset.refanged.values())} refanged" if iset.refanged else "")
    )
    return iset


# -- near-duplicate prompts ------------------------------------------------------------------------------


def add_near_duplicates_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--near-duplicates", choices=tuple(PROFILES), metavar="PROFILE",
        help="match our prompt indicators as near-duplicates (MinHash bands, kind prompt-band) under "
        "fingerprint profile strict, default or loose; both labs must choose the same profile "
        "(docs/prompt-fingerprints.md). Caps then count band items.",
    )  # fmt: skip


def session_items(iset: IndicatorSet, near_duplicates: str | None, msgs: Messages | None = None) -> PsiItems:
    """The session's items: as read, or with prompts turned into band items (``--near-duplicates``)."""
    pi = iset.psi_items(near_duplicates)
    if msgs is not None and near_duplicates:
        prompts = pi.prompts
        n = len(prompts.fingerprints) if prompts is not None else 0
        left = prompts.fingerprints.skipped if prompts is not None else 0
        skipped = f", {left} left out" if left else ""
        msgs.info(
            f"near-duplicates ({near_duplicates}): {n} prompts make {len(prompts) if prompts else 0} band "
            f"items{skipped}; {len(pi)} items in all"
        )
    return pi


def check_cap(pi: PsiItems, cap: int) -> None:
    """A clear error when our items exceed the cap we propose (band items count one each)."""
    if len(pi) <= cap:
        return
    extra = ""
    if pi.prompts is not None and pi.profile is not None:
        n = len(pi.prompts.fingerprints)
        name = pi.profile.name
        extra = (
            f" ({len(pi.prompts)} of them prompt-band items of {n} prompts; under profile {name} "
            f"{n} prompts make at most {max_band_items(n, pi.profile)})"
        )
    raise CliError(ExitCode.USAGE, f"{len(pi)} items{extra} exceed the cap of {cap}: raise --max-items")


def check_own_cap(pi: PsiItems, cap: int) -> None:
    """A responder's set must fit under its own public cap (checked once, before anything is sent)."""
    if len(pi) > cap:
        raise CliError(ExitCode.USAGE, f"{len(pi)} items exceed our own cap of {cap}: raise --max-own-items")


# -- identities and peers ---------------------------------------------------------------------------------


def add_identity_args(p: argparse.ArgumentParser, *, peers: bool = True) -> None:
    p.add_argument("--identity", required=True, metavar="FILE", help="our identity key (from `keygen`)")
    if peers:
        p.add_argument("--peers", default="peers.json", metavar="FILE", help="trust store (peers.json)")


def _check_private_key_file(path: str) -> None:
    """A file that is no PEM private key (a ``.pub`` file given by mistake) is named as such, before the
    permission check would talk about ``chmod``."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if b"PRIVATE KEY-----" in head:
        return
    hint = " (this is a public key: give the identity file `keygen` wrote, not FILE.pub)"
    raise CliError(
        ExitCode.INVALID_INPUT,
        f"{path}: not a private key" + (hint if head.lstrip().startswith(b"blindmatch-") else ""),
    )


def load_identity(path: str) -> Identity:
    """Read our identity; an encrypted one takes its passphrase by the rule of ``_passphrase`` (from
    ``BLINDMATCH_PASSPHRASE``, else a prompt on a terminal), an unencrypted one never asks for it."""
    from ..session.identity import PassphraseError
    from ._passphrase import PASSPHRASE_ENV, get_passphrase

    try:
        _check_private_key_file(path)
        passphrase = get_passphrase(path) if Identity.file_is_encrypted(path) else None
        return Identity.load(path, passphrase)
    except PassphraseError as exc:
        hint = "" if exc.missing else f" (check {PASSPHRASE_ENV} or what was typed)"
        raise CliError(ExitCode.LOCAL, f"{path}: {exc}{hint}") from None
    except FileNotFoundError:
        raise CliError(
            ExitCode.LOCAL, f"identity file {path} not found (make one with `blindmatch keygen`)"
        ) from None
    except InvalidParameter as exc:
        raise CliError(ExitCode.LOCAL, f"{path}: {exc}") from None
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{path}: {exc}") from None
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot read {path}: {exc.strerror or exc}") from None


def load_peers(path: str, *, missing_ok: bool = False) -> PeerStore:
    try:
        return PeerStore.load(path)
    except FileNotFoundError:
        if missing_ok:
            return PeerStore()
        raise CliError(
            ExitCode.LOCAL, f"peers file {path} not found (add peers with `blindmatch peers add`)"
        ) from None
    except MalformedFile as exc:
        raise CliError(ExitCode.INVALID_INPUT, f"{path}: {exc}") from None
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot read {path}: {exc.strerror or exc}") from None


# -- initiator proposal and responder policy --------------------------------------------------------------

#: ``--engine`` / ``--allow-engine`` names of the PSI suites.
ENGINES = {"dh": PSI_SUITE, "ot": OT_PSI_SUITE, "stream": STREAM_PSI_SUITE, "stream-ot": STREAM_OT_PSI_SUITE}


def add_proposal_args(p: argparse.ArgumentParser, *, validity: int = 3600) -> None:
    g = p.add_argument_group("what we propose (the manifest)")
    g.add_argument("--peer", required=True, metavar="NAME", help="the responder's name in the peers file")
    g.add_argument("--mode", choices=MODES, default="intersection", help="default: intersection")
    g.add_argument("--engine", choices=tuple(ENGINES), default="dh",
                   help="PSI engine: dh (default; every mode, audits, file steps) or ot (the OT-extension "
                   "engine: about 30x faster on large sets, semi-honest, modes intersection and mutual, "
                   "connect only; docs/protocol-ot.md) or stream (the DH engine streamed in chunks, spill "
                   "files in --stream-workdir, live only; docs/streaming.md) or stream-ot (the OT engine "
                   "in buckets: semi-honest, intersection and mutual; docs/streaming.md)")  # fmt: skip
    g.add_argument("--purpose", required=True, help="one line saying why, for both disclosure records")
    g.add_argument("--max-items", type=positive_int, default=1 << 17, metavar="N",
                   help="cap on each side's set size (default: 131072)")  # fmt: skip
    g.add_argument("--responder-max-items", type=positive_int, metavar="N",
                   help="a different cap for the responder's set")  # fmt: skip
    add_deprecated_alias(g, "--peer-max-items", "--responder-max-items", "responder_max_items",
                         type=positive_int, metavar="N")  # fmt: skip
    g.add_argument("--padding", choices=PADDING_RULES, default="pow2",
                   help="how we pad our own set (the size the peer sees), also proposed to the peer; the "
                   "responder pads its own set by its --allow-padding (default: pow2)")  # fmt: skip
    g.add_argument("--validity", type=positive_int, default=validity, metavar="SECONDS",
                   help=f"how long the proposal is valid (default: {validity})")  # fmt: skip
    add_audit_proposal_args(p)


def max_items_of(args: argparse.Namespace) -> int | tuple[int, int]:
    if args.responder_max_items is None:
        return int(args.max_items)
    return (int(args.max_items), int(args.responder_max_items))


def padding_list(text: str) -> tuple[str, ...]:
    """``--allow-padding``: distinct padding rules, comma-separated, in order of preference."""
    rules = tuple(r.strip() for r in text.split(","))
    if not rules or any(r not in PADDING_RULES for r in rules) or len(set(rules)) != len(rules):
        raise argparse.ArgumentTypeError(
            f"expected distinct rules from {', '.join(PADDING_RULES)}, comma-separated (got {text!r})"
        )
    return rules


def add_policy_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what we accept (the policy)")
    g.add_argument("--allow-peer", action="append", metavar="NAME",
                   help="peers allowed to start sessions (default: all in the peers file)")  # fmt: skip
    g.add_argument("--allow-mode", action="append", choices=MODES, help="modes accepted (repeatable; all)")
    g.add_argument("--allow-engine", action="append", choices=tuple(ENGINES),
                   help="PSI engines accepted (repeatable; default: dh only; ot is semi-honest: add it "
                   "only for peers trusted to follow the protocol, docs/protocol-ot.md)")  # fmt: skip
    g.add_argument("--allow-kind", action="append", choices=ALL_KINDS, metavar="KIND",
                   help="kinds accepted (repeatable; default: any)")  # fmt: skip
    g.add_argument("--allow-padding", type=padding_list, default=DEFAULT_PADDINGS, metavar="RULES",
                   help="how we pad our own set: comma-separated rules in order of preference; the "
                   "initiator's proposed rule when it is listed, else the first (default: pow2,cap; "
                   "'none' shows our exact set size)")  # fmt: skip
    g.add_argument("--max-initiator-items", type=positive_int, default=1 << 20, metavar="N",
                   help="largest cap an initiator may propose for its set (default: 1048576)")  # fmt: skip
    add_deprecated_alias(g, "--max-peer-items", "--max-initiator-items", "max_initiator_items",
                         type=positive_int, metavar="N")  # fmt: skip
    g.add_argument("--max-own-items", type=positive_int, default=1 << 17, metavar="N",
                   help="our own public cap: our set may not exceed it, and a proposal must give us at "
                   "least this cap (exactly it with padding cap); default: 131072, the default "
                   "--max-items of connect")  # fmt: skip
    add_audit_policy_arg(g)


@dataclass(frozen=True)
class BudgetPolicy(Policy):
    """A :class:`Policy` that also charges every hello to the peer's daily budget.

    It runs after the hello's signature is verified, so a forged hello cannot spend someone else's budget;
    it charges before any other check, so refused proposals (probes) cost the peer a session too.
    """

    budget: SessionBudget | None = None

    def refusal(self, manifest: Any, peer_name: str) -> str | None:
        if self.budget is not None:
            try:
                self.budget.charge(peer_name)
            except SessionBudgetExceeded:
                return f"the daily session budget ({self.budget.limit}) of this peer is used up"
        return super().refusal(manifest, peer_name)


def _allowed_kinds(allowed: list[str] | None, prompt_profile: str | None) -> frozenset[str] | None:
    """``--allow-kind``; with near-duplicate prompts, allowing ``prompt`` allows its ``prompt-band`` items."""
    if not allowed:
        return None
    kinds = set(allowed)
    if prompt_profile is not None and "prompt" in kinds:
        kinds.add(BAND_KIND)
    return frozenset(kinds)


def build_policy(
    args: argparse.Namespace, budget: SessionBudget | None = None, *, prompt_profile: str | None = None
) -> Policy:
    auditor = audit_auditor(args)
    try:
        return BudgetPolicy(
            allowed_peers=frozenset(args.allow_peer) if args.allow_peer else None,
            modes=frozenset(args.allow_mode) if args.allow_mode else frozenset(MODES),
            psi_suites=frozenset(ENGINES[e] for e in (getattr(args, "allow_engine", None) or ["dh"])),
            kinds=_allowed_kinds(args.allow_kind, prompt_profile),
            max_items_initiator=args.max_initiator_items,
            max_items_responder=args.max_own_items,
            paddings=tuple(args.allow_padding),
            budget=budget,
            prompt_profile=prompt_profile,
            auditor=auditor.raw if auditor is not None else None,
            min_audit_rate_ppm=int(getattr(args, "min_audit_rate", 10_000)),
            canon_version=int(getattr(args, "canon_version", CANON_VERSION)),
        )
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None


# -- outputs ----------------------------------------------------------------------------------------------


def finish_outputs(
    iset: IndicatorSet,
    party: InitiatorSession | ResponderSession,
    out_dir: str | Path,
    prefix: str,
    *,
    started: float,
    near_duplicates: str | None,
    html: bool = False,
) -> tuple[LocalReport | None, list[Path]]:
    """Write what a session produced: its local report (when it has a result), its audit package (an
    audited session) and its record (when it ended); with ``html`` also the report as a page. When the
    report cannot be made (an input file changed meanwhile) the package and the record are still written."""
    record = party.record() if party.done else None
    package = party.audit_package() if party.done else None
    try:
        report = (
            iset.report(party.result, near_duplicates=near_duplicates, started=started)
            if party.result is not None
            else None
        )
    except LocalError as exc:
        write_outputs(out_dir, prefix, report=None, record=record, audit_package=package)
        raise CliError(ExitCode.LOCAL, f"cannot write the local report: {exc}") from None
    paths = write_outputs(out_dir, prefix, report=report, record=record, audit_package=package, html=html)
    return report, paths


def check_out_dir(out_dir: str | Path) -> None:
    """Before any message is sent: the output folder exists or can be made, and a file can be created in
    it (so an exchange never ends with the peer holding its results and us unable to keep ours)."""
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".blindmatch-probe-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CliError(
            ExitCode.LOCAL, f"cannot write to the output folder {d}: {exc.strerror or exc} (nothing was sent)"
        ) from None


def write_outputs(
    out_dir: str | Path,
    prefix: str,
    *,
    report: LocalReport | None,
    record: dict[str, Any] | None,
    audit_package: bytes | None = None,
    html: bool = False,
) -> list[Path]:
    """Write ``<prefix>report.json``, ``<prefix>matches.csv``, ``<prefix>counts.csv`` (mode 0600, local
    only; the CSV files only where the mode gives this side the matches), ``<prefix>audit.bmaudit`` (an
    audited session's sealed package, mode 0600, for the auditor only) and ``<prefix>record.json`` (the
    signed, shareable disclosure record). The package is written before the record that names its hash.
    With ``html``, also ``<prefix>report.html``: the report and the record as one page (mode 0600,
    docs/html-report.md)."""
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot create {d}: {exc.strerror or exc}") from None
    written: list[Path] = []
    report_for_html = report
    if report is not None:
        written.append(report.write_json(d / f"{prefix}report.json"))
        if report.learned in ("nothing", "count"):
            report = None  # no matches to list: no empty CSV files (the count is in the report)
    if report is not None:
        written.append(report.write_csv(d / f"{prefix}matches.csv", counts_path=d / f"{prefix}counts.csv"))
        if report.prompt_profile is not None:
            written.append(report.write_near_duplicates_csv(d / f"{prefix}near-duplicates.csv"))
    if audit_package is not None:
        written.append(atomic_write(d / f"{prefix}{AUDIT_SUFFIX}", audit_package, mode=0o600))
    if record is not None:
        data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
        written.append(atomic_write(d / f"{prefix}record.json", data, mode=0o644))
    if html and report_for_html is not None:
        written.append(_write_html(d / f"{prefix}report.html", report_for_html, record))
    return written


def _write_html(path: Path, report: LocalReport, record: dict[str, Any] | None) -> Path:
    """The report as a page; our record (signed just now, by our identity) checked with its signer's key."""
    signer = record.get("signature", {}).get("public_key") if record is not None else None
    keys = [PublicIdentity.from_text(signer)] if isinstance(signer, str) else []
    return atomic_write(path, exchange_html(report, record, keys=keys).encode("utf-8"), mode=0o600)


def summary_lines(report: LocalReport, *, peer: str, seconds: float | None = None) -> list[str]:
    """A few readable lines about one finished exchange: counts, and with near-duplicate prompt matching
    the matched prompts (their origin and start), which stay on this side."""
    lines = [
        f"exchange with {peer} ({report.mode}) finished"
        + (f" in {seconds:.1f} s" if seconds is not None else ""),
        f"  we disclosed a set of {report.own_padded_size} (padded; {report.own_size} real), "
        f"the peer one of {report.peer_padded_size}",
    ]
    if report.learned == "nothing":
        lines.append("  we learned nothing about the intersection in this mode (the peer did)")
    elif report.learned == "count":
        what = "indicators" if report.prompt_profile is None else "items (prompt bands count one each)"
        lines.append(f"  shared {what}: {report.count} (this mode reveals only the count)")
    else:
        per_kind = ", ".join(f"{k} {c['distinct']}" for k, c in report.counts_per_kind().items())
        if report.prompt_profile is None:
            lines.append(f"  shared indicators: {report.count}" + (f" ({per_kind})" if per_kind else ""))
        else:
            exact = sum(c["distinct"] for c in report.counts_per_kind().values())
            lines.append(f"  shared indicators: {exact}" + (f" ({per_kind})" if per_kind else ""))
    if report.prompt_profile is not None:
        lines += _near_lines(report)
    return lines


def _near_lines(report: LocalReport, limit: int = 10) -> list[str]:
    prof = report.prompt_profile or {}
    head = f"  near-duplicate prompts (profile {prof.get('name')}, {prof.get('tag')})"
    if report.learned != "intersection":
        return [head + ": the count above includes matched prompt bands; this mode names no prompts"]
    near = report.near_duplicates
    lines = [head + f": {len({n.canonical for n in near})} of ours ({len(near)} rows)"]
    for n in near[:limit]:
        text = " ".join(n.value.split())
        text = text if len(text) <= 60 else text[:57] + "..."
        lines.append(
            f"    {n.origin}: bands {n.bands_matched}/{n.bands}, similarity ~{n.similarity:.2f} "
            f"[{n.similarity_low:.2f}-{n.similarity_high:.2f}]: {text!r}"
        )
    if len(near) > limit:
        lines.append(f"    ... and {len(near) - limit} more (see the report)")
    return lines


Printer = Callable[[str], None]
