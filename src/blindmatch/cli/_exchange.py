"""What the exchange commands (``psi``, ``serve``, ``connect``) share: reading and canonicalizing the
inputs, identities and peers, the responder policy, and writing the report and the record."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._fileio import atomic_write
from ..canonical import KINDS, canonicalize
from ..errors import InvalidIndicator, InvalidParameter, MalformedFile
from ..fingerprints import BAND_KIND, PROFILES, PromptItems, get_profile, max_band_items, prompt_items
from ..inputs import FORMATS, Record, read_indicators
from ..outputs import LocalReport, NearDuplicate, build_matches
from ..session import MODES, PADDING_RULES, Identity, PeerStore, Policy, SessionResult
from ..transport import DailySessionBudget, SessionBudgetExceeded
from ._common import Messages
from .exitcodes import CliError, ExitCode
from .progress import Progress

__all__ = [
    "BudgetPolicy",
    "LoadedSet",
    "SessionItems",
    "add_identity_args",
    "add_input_args",
    "add_near_duplicates_arg",
    "add_policy_args",
    "add_proposal_args",
    "build_policy",
    "check_cap",
    "check_own_cap",
    "load_identity",
    "load_inputs",
    "load_peers",
    "make_report",
    "session_items",
    "write_outputs",
]


# -- inputs -----------------------------------------------------------------------------------------------


@dataclass
class LoadedSet:
    """Our side of an exchange: distinct canonical values per kind, and the records behind each."""

    items_by_kind: dict[str, list[str]] = field(default_factory=dict)
    records: dict[tuple[str, str], list[Record]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.items_by_kind.values())

    def to_json(self) -> dict[str, Any]:
        """For state files: records with their canonical form."""
        return {
            "records": [
                [k, c, r.value, r.origin] for (k, c), recs in self.records.items() for r in recs
            ],
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, doc: Any) -> LoadedSet:
        out = cls(summary=dict(doc.get("summary", {})))
        for k, c, v, o in doc["records"]:
            recs = out.records.setdefault((k, c), [])
            if not recs:
                out.items_by_kind.setdefault(k, []).append(c)
            recs.append(Record(k, v, o))
        return out


def add_input_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("our indicators")
    g.add_argument("--input", "-i", action="append", required=True, metavar="FILE",
                   help="indicator file (repeatable); see docs/input-formats.md")  # fmt: skip
    g.add_argument("--format", choices=("auto", *FORMATS), default="auto", help="default: auto")
    g.add_argument("--kind", choices=KINDS, metavar="KIND", help="kind of plain lines, or of a CSV --column")
    g.add_argument("--column", help="CSV column holding the values (with --kind)")
    g.add_argument("--kinds", help="only these kinds take part (comma-separated; default: every kind read)")
    g.add_argument("--default-region", metavar="CC", help="region for national phone numbers (e.g. US)")
    g.add_argument("--skip-invalid", action="store_true",
                   help="leave out indicators that do not canonicalize (default: stop, exit 3)")  # fmt: skip


def _kinds_option(text: str | None) -> set[str] | None:
    if not text:
        return None
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    bad = sorted(kinds - set(KINDS))
    if bad:
        raise CliError(ExitCode.USAGE, f"unknown kind(s) in --kinds: {', '.join(bad)}")
    return kinds


def load_inputs(args: argparse.Namespace, msgs: Messages) -> LoadedSet:
    """Read every ``--input``, canonicalize, and report unmapped and invalid entries by type and reason."""
    only = _kinds_option(args.kinds)
    out = LoadedSet()
    files: list[dict[str, Any]] = []
    invalid: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    first_invalid: list[str] = []
    for path in args.input:
        try:
            batch = read_indicators(path, fmt=args.format, kind=args.kind, column=args.column)
        except MalformedFile as exc:
            raise CliError(ExitCode.INVALID_INPUT, str(exc)) from None
        except InvalidParameter as exc:
            code = ExitCode.LOCAL if "cannot read" in str(exc) else ExitCode.USAGE
            raise CliError(code, str(exc)) from None
        files.append({"file": str(path), "format": batch.format, "records": len(batch.records)})
        unmapped.update(batch.unmapped)
        ignored.update(batch.ignored)
        with Progress(f"canonicalizing {Path(path).name}", total=len(batch.records), quiet=msgs.quiet) as bar:
            for i, rec in enumerate(batch.records, 1):
                if only is not None and rec.kind not in only:
                    ignored[f"kind not selected: {rec.kind}"] += 1
                    continue
                try:
                    c = canonicalize(rec.kind, rec.value, default_region=args.default_region)
                except InvalidIndicator as exc:
                    invalid[f"{rec.kind}: {exc.reason}"] += 1
                    if len(first_invalid) < 20:
                        first_invalid.append(f"{rec.origin}: invalid {rec.kind} indicator: {exc.reason}")
                    continue
                recs = out.records.setdefault((rec.kind, c), [])
                if not recs:
                    out.items_by_kind.setdefault(rec.kind, []).append(c)
                recs.append(rec)
                if i % 4096 == 0:
                    bar(i)
            bar(len(batch.records))
    n_invalid = sum(invalid.values())
    if unmapped:
        msgs.warn("entries with no kind of ours, not compared: "
                  + ", ".join(f"{k} x{n}" for k, n in sorted(unmapped.items())))  # fmt: skip
    if n_invalid:
        for line in first_invalid:
            msgs.line_problem(line, quiet_ok=args.skip_invalid)
        if n_invalid > len(first_invalid) and not (args.skip_invalid and msgs.quiet):
            msgs.line_problem(f"... {n_invalid} invalid indicators in all", quiet_ok=args.skip_invalid)
        if not args.skip_invalid:
            raise CliError(
                ExitCode.INVALID_INPUT,
                f"{n_invalid} indicator(s) do not canonicalize (use --skip-invalid to leave them out)",
            )
    if not out.items_by_kind:
        raise CliError(ExitCode.INVALID_INPUT, "no usable indicators in the input")
    out.summary = {
        "files": files,
        "distinct_per_kind": {k: len(v) for k, v in sorted(out.items_by_kind.items())},
        "invalid": dict(sorted(invalid.items())),
        "unmapped": dict(sorted(unmapped.items())),
        "ignored": dict(sorted(ignored.items())),
    }
    msgs.info(
        f"read {sum(f['records'] for f in files)} records: {out.size} distinct indicators of "
        f"{len(out.items_by_kind)} kind(s)" + (f", {n_invalid} invalid left out" if n_invalid else "")
    )
    return out


# -- near-duplicate prompts ------------------------------------------------------------------------------


def add_near_duplicates_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--near-duplicates", choices=tuple(PROFILES), metavar="PROFILE",
        help="match our prompt indicators as near-duplicates (MinHash bands, kind prompt-band) under "
        "fingerprint profile strict, default or loose; both labs must choose the same profile "
        "(docs/prompt-fingerprints.md). Caps then count band items.",
    )  # fmt: skip


@dataclass
class SessionItems:
    """What the session gets from a :class:`LoadedSet`: the items per kind, where with
    ``--near-duplicates`` the ``prompt`` kind is replaced by its ``prompt-band`` items."""

    items_by_kind: dict[str, list[str]]
    profile: str | None = None  # the preset name
    prompts: PromptItems | None = None
    prompt_canonicals: list[str] = field(default_factory=list)

    @property
    def profile_tag(self) -> str | None:
        return get_profile(self.profile).tag if self.profile is not None else None

    @property
    def manifest_profile(self) -> str | None:
        """The tag the initiator's manifest names: only when it proposes band items."""
        return self.profile_tag if BAND_KIND in self.items_by_kind else None

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.items_by_kind.values())


def session_items(
    loaded: LoadedSet, near_duplicates: str | None, msgs: Messages | None = None
) -> SessionItems:
    """The session's items: as loaded, or with prompts turned into band items (``errors="skip"``)."""
    if not near_duplicates:
        return SessionItems(loaded.items_by_kind)
    profile = get_profile(near_duplicates)
    canon = list(loaded.items_by_kind.get("prompt", []))
    out = {k: v for k, v in loaded.items_by_kind.items() if k != "prompt"}
    pi: PromptItems | None = None
    if canon:
        pi = prompt_items(canon, profile, errors="skip")
        if pi.items:
            out[BAND_KIND] = pi.items_by_kind[BAND_KIND]
    si = SessionItems(out, near_duplicates, pi, canon)
    if msgs is not None:
        n = len(pi.fingerprints) if pi is not None else 0
        left = pi.fingerprints.skipped if pi is not None else 0
        skipped = f", {left} left out" if left else ""
        msgs.info(
            f"near-duplicates ({near_duplicates}): {n} prompts make {len(pi) if pi else 0} band items"
            f"{skipped}; {si.size} items in all"
        )
    return si


def check_cap(si: SessionItems, cap: int) -> None:
    """A clear error when our items exceed the cap we propose (band items count one each)."""
    if si.size <= cap:
        return
    extra = ""
    if si.prompts is not None and si.profile is not None:
        n = len(si.prompts.fingerprints)
        extra = (
            f" ({len(si.prompts)} of them prompt-band items of {n} prompts; under profile {si.profile} "
            f"{n} prompts make at most {max_band_items(n, si.profile)})"
        )
    raise CliError(ExitCode.USAGE, f"{si.size} items{extra} exceed the cap of {cap}: raise --max-items")


def check_own_cap(si: SessionItems, cap: int) -> None:
    """A responder's set must fit under its own public cap (checked once, before anything is sent)."""
    if si.size > cap:
        raise CliError(ExitCode.USAGE, f"{si.size} items exceed our own cap of {cap}: raise --max-own-items")


# -- identities and peers ---------------------------------------------------------------------------------


def add_identity_args(p: argparse.ArgumentParser, *, peers: bool = True) -> None:
    p.add_argument("--identity", required=True, metavar="FILE", help="our identity key (from `keygen`)")
    if peers:
        p.add_argument("--peers", default="peers.json", metavar="FILE", help="trust store (peers.json)")


def load_identity(path: str) -> Identity:
    try:
        return Identity.load(path)
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


def add_proposal_args(p: argparse.ArgumentParser, *, validity: int = 3600) -> None:
    g = p.add_argument_group("what we propose (the manifest)")
    g.add_argument("--peer", required=True, metavar="NAME", help="the responder's name in the peers file")
    g.add_argument("--mode", choices=MODES, default="intersection", help="default: intersection")
    g.add_argument("--purpose", required=True, help="one line saying why, for both disclosure records")
    g.add_argument("--max-items", type=int, default=1 << 17, metavar="N",
                   help="cap on each side's set size (default: 131072)")  # fmt: skip
    g.add_argument("--peer-max-items", type=int, metavar="N", help="a different cap for the responder's set")
    g.add_argument("--padding", choices=PADDING_RULES, default="pow2", help="default: pow2")
    g.add_argument("--validity", type=int, default=validity, metavar="SECONDS",
                   help=f"how long the proposal is valid (default: {validity})")  # fmt: skip


def max_items_of(args: argparse.Namespace) -> int | tuple[int, int]:
    if args.peer_max_items is None:
        return int(args.max_items)
    return (int(args.max_items), int(args.peer_max_items))


def add_policy_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what we accept (the policy)")
    g.add_argument("--allow-peer", action="append", metavar="NAME",
                   help="peers allowed to start sessions (default: all in the peers file)")  # fmt: skip
    g.add_argument("--allow-mode", action="append", choices=MODES, help="modes accepted (repeatable; all)")
    g.add_argument("--allow-kind", action="append", choices=KINDS, metavar="KIND",
                   help="kinds accepted (repeatable; default: any)")  # fmt: skip
    g.add_argument("--max-peer-items", type=int, default=1 << 20, metavar="N",
                   help="largest initiator cap accepted (default: 1048576)")  # fmt: skip
    g.add_argument("--max-own-items", type=int, default=1 << 17, metavar="N",
                   help="our own public cap: our set may not exceed it, and a proposal must give us at "
                   "least this cap (exactly it with padding cap); default: 131072, the default "
                   "--max-items of connect")  # fmt: skip


@dataclass(frozen=True)
class BudgetPolicy(Policy):
    """A :class:`Policy` that also charges every hello to the peer's daily budget.

    It runs after the hello's signature is verified, so a forged hello cannot spend someone else's budget;
    it charges before any other check, so refused proposals (probes) cost the peer a session too.
    """

    budget: DailySessionBudget | None = None

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
    args: argparse.Namespace, budget: DailySessionBudget | None = None, *, prompt_profile: str | None = None
) -> Policy:
    try:
        return BudgetPolicy(
            allowed_peers=frozenset(args.allow_peer) if args.allow_peer else None,
            modes=frozenset(args.allow_mode) if args.allow_mode else frozenset(MODES),
            kinds=_allowed_kinds(args.allow_kind, prompt_profile),
            max_items_initiator=args.max_peer_items,
            max_items_responder=args.max_own_items,
            budget=budget,
            prompt_profile=prompt_profile,
        )
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None


# -- outputs ----------------------------------------------------------------------------------------------


def near_duplicates_of(result: SessionResult, loaded: LoadedSet, si: SessionItems) -> list[NearDuplicate]:
    """Our prompts whose bands matched, one entry per input record, most similar first."""
    if si.prompts is None or result.matched is None:
        return []
    out: list[NearDuplicate] = []
    bands = [m for m in result.matched if m[0] == BAND_KIND]
    for pm in si.prompts.matches(bands):
        canonical = si.prompt_canonicals[pm.index]
        for rec in loaded.records.get(("prompt", canonical), ()):
            out.append(NearDuplicate(
                rec.value, canonical, rec.origin, pm.bands_matched, pm.bands,
                round(pm.similarity, 4), round(pm.similarity_low, 4), round(pm.similarity_high, 4),
            ))  # fmt: skip
    out.sort(key=lambda n: (-n.bands_matched, n.origin))
    return out


def make_report(
    result: SessionResult,
    loaded: LoadedSet,
    *,
    started: float | None,
    finished: float | None = None,
    items: SessionItems | None = None,
) -> LocalReport:
    exact = [m for m in result.matched or [] if m[0] != BAND_KIND]
    matches = build_matches(exact, loaded.records)
    profile: dict[str, str] | None = None
    near: list[NearDuplicate] = []
    if items is not None and items.profile is not None and items.profile_tag is not None:
        profile = {"name": items.profile, "tag": items.profile_tag}
        near = near_duplicates_of(result, loaded, items)
    return LocalReport(
        mode=result.mode,
        count=result.count,
        own_size=result.own_size,
        peer_size=result.peer_padded_size,
        matches=matches,
        peer=result.peer_name,
        peer_fingerprint=result.peer.fingerprint,
        learned=result.learned,
        own_padded_size=result.own_padded_size,
        session_id=result.session_id.hex(),
        transcript_hash=result.transcript_hash.hex(),
        inputs=loaded.summary,
        started=started,
        finished=finished if finished is not None else time.time(),
        prompt_profile=profile,
        near_duplicates=near,
    )


def write_outputs(
    out_dir: str | Path,
    prefix: str,
    *,
    report: LocalReport | None,
    record: dict[str, Any] | None,
) -> list[Path]:
    """Write ``<prefix>report.json``, ``<prefix>matches.csv``, ``<prefix>counts.csv`` (mode 0600, local
    only) and ``<prefix>record.json`` (the signed, shareable disclosure record)."""
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot create {d}: {exc.strerror or exc}") from None
    written: list[Path] = []
    if report is not None:
        written.append(report.write_json(d / f"{prefix}report.json"))
        written.append(report.write_csv(d / f"{prefix}matches.csv", counts_path=d / f"{prefix}counts.csv"))
        if report.prompt_profile is not None:
            written.append(report.write_near_duplicates_csv(d / f"{prefix}near-duplicates.csv"))
    if record is not None:
        data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
        written.append(atomic_write(d / f"{prefix}record.json", data, mode=0o644))
    return written


def summary_lines(report: LocalReport, *, peer: str, seconds: float | None = None) -> list[str]:
    """A few readable lines about one finished exchange: counts, and with near-duplicate prompt matching
    the matched prompts (their origin and start), which stay on this side."""
    lines = [
        f"exchange with {peer} ({report.mode}) finished"
        + (f" in {seconds:.1f} s" if seconds is not None else ""),
        f"  we disclosed a set of {report.own_padded_size} (padded; {report.own_size} real), "
        f"the peer one of {report.peer_size}",
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
    lines = [head + f": {len({n.canonical for n in near})} of ours ({len(near)} records)"]
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
