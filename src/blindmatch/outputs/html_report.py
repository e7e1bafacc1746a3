"""The local report as one self-contained HTML page, for people to look at.

:func:`exchange_html` shows one exchange (a ``blindmatch-local-report/2`` report and its disclosure
record), :func:`round_html` a merged round (``blindmatch-round-report/1`` and the record of each pair).
Each returns the whole page as text: inline CSS only, charts as inline SVG, no JavaScript and no URL, and
a Content-Security-Policy (:data:`CSP`) that lets nothing load or run. Every string from the reports and
records is treated as hostile: control, bidi and format characters are shown as escapes, everything is
HTML-escaped, long values are cut visibly (whole in a ``title``). See docs/html-report.md.

Like the report it shows, the page holds indicator values: write it with mode 0600 and keep it local.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .._version import __version__
from ..errors import MalformedFile
from ..session.identity import PublicIdentity
from ._html_base import CSP, capped_rows, cell, num, page, section, table, text
from ._html_input import ROUND_FORMAT, Exchange, Indicator, Round, read_exchange, read_round
from ._html_records import MissingRecord, RecordCheck, check_record, record_block
from ._html_svg import Bar, bar_chart, heat_table
from .local_report import REPORT_FORMAT, LocalReport

__all__ = [
    "CSP",
    "ROUND_FORMAT",
    "MissingRecord",
    "RecordCheck",
    "check_record",
    "exchange_html",
    "report_kind",
    "round_html",
]

Record = Mapping[str, Any] | MissingRecord
_SHOWN = 80
_NOTICE = '<p class="notice">LOCAL ONLY: this page lists indicator values; never share it.</p>'


def report_kind(doc: Any) -> str:
    """``"exchange"`` for a local report, ``"round"`` for a round report; else :class:`MalformedFile`."""
    fmt = doc.get("format") if isinstance(doc, Mapping) else None
    if fmt == REPORT_FORMAT:
        return "exchange"
    if fmt == ROUND_FORMAT:
        return "round"
    raise MalformedFile(f"not a report this page can show (expected {REPORT_FORMAT} or {ROUND_FORMAT})")


def _summary(items: Iterable[tuple[str, str]]) -> str:
    lis = "".join(f'<li><span class="n">{n}</span><span class="what">{text(w)}</span></li>' for n, w in items)
    return f'<ul class="summary">{lis}</ul>'


def _footer(fmt: str) -> str:
    return (
        f"Made by blindmatch {text(__version__)} from a {text(fmt)} file. This page runs no script and "
        "loads nothing: its Content-Security-Policy allows only its own style sheet."
    )


def _rows(items: list[Any], max_rows: int) -> list[Any]:
    return items[:max_rows] if max_rows >= 0 else items


def _match_table(matches: list[Any], max_rows: int, *, held: bool = False) -> str:
    if not matches:
        return '<p class="empty">none</p>'
    shown = _rows(matches, max_rows)
    rows = []
    for m in shown:
        row = [
            cell(text(m.kind, 30)),
            cell(text(m.value, _SHOWN), "mono"),
            cell(text(m.canonical, _SHOWN), "mono"),
        ]
        row.append(cell(text(m.origin, 60)))
        if held:
            row.append(cell(text(", ".join(m.held_by), 200)))
        rows.append(row)
    heads = ["kind", "value", "canonical", "origin", *(["held by"] if held else [])]
    return table(heads, rows, css="matches") + capped_rows(len(matches), len(shown), "rows")


def _exchange_summary(ex: Exchange) -> str:
    if ex.learned == "nothing":
        shared = ("\u2014", "shared: this side learned nothing")
    else:
        shared = (num(ex.shared), "shared indicators" + (" (count only)" if ex.learned == "count" else ""))
    return _summary(
        [
            shared,
            (num(ex.own_size), f"our distinct items ({num(ex.own_padded_size)} padded, shown to the peer)"),
            (num(ex.peer_padded_size), "the peer's padded set size"),
            (num(len(ex.per_kind)), "kinds with matches"),
        ]
    )


def exchange_html(
    report: LocalReport | Mapping[str, Any],
    record: Record | None = None,
    *,
    keys: Iterable[PublicIdentity] = (),
    max_rows: int = 2000,
) -> str:
    """The page for one exchange: ``report`` (a :class:`LocalReport` or its JSON as a dict) and our
    disclosure ``record`` of it (a dict; a :class:`MissingRecord` says why it is absent).

    The record's signature is checked when its signer is among ``keys`` (shown "verified" or "signature
    invalid"), else shown "not checked". At most ``max_rows`` matches are listed (all with a negative
    value). A malformed report raises :class:`~blindmatch.MalformedFile`.
    """
    ex = read_exchange(report.to_dict() if isinstance(report, LocalReport) else report)
    peer = ex.peer or "the peer"
    check = (
        check_record(record, keys, transcript_hash=ex.transcript_hash)
        if isinstance(record, Mapping)
        else None
    )
    header = (
        f"<h1>Exchange with {text(peer, 60)}</h1>{_NOTICE}"
        f'<p class="meta">mode {text(ex.mode)} \u00b7 finished {text(ex.finished or "unknown")} \u00b7 '
        f'session <span class="mono">{text(ex.session_id or "unknown", 40)}</span></p>'
    )
    bars = [Bar(k, d, f"{num(d)} ({num(r)} row{'' if r == 1 else 's'})") for k, (d, r) in ex.per_kind.items()]
    body = [
        section("Summary", _exchange_summary(ex), ident="summary"),
        section(
            "Matches per kind",
            bar_chart(
                "kinds", "distinct matched indicators per kind", bars, empty="no matched indicators listed"
            ),
            ident="kinds",
        ),
        section("Matched indicators", _match_table(ex.matches, max_rows), ident="matches"),
        section(
            "Disclosure record",
            record_block(f"Our record of the exchange with {peer}", record, check, peer=peer),
            ident="records",
        ),
    ]
    return page(f"blindmatch: exchange with {peer}", header, "\n".join(body), _footer(REPORT_FORMAT))


def _others(ind: Indicator, me: str) -> list[str]:
    return [h for h in ind.held_by if h != me]


def _round_charts(rd: Round) -> list[str]:
    lab_bars = [
        Bar(lab.name, lab.matches, "failed", "failed")
        if lab.status == "failed"
        else Bar(lab.name, lab.matches)
        for lab in rd.labs
    ]
    per_kind = Counter(ind.kind for ind in rd.indicators if _others(ind, rd.me))
    kinds = sorted(set(per_kind) | set(rd.per_kind))
    kind_bars = [Bar(k, per_kind.get(k, 0)) for k in kinds]
    labs = [lab.name for lab in rd.labs]
    return [
        section(
            "Matches per lab",
            bar_chart("labs", "our indicators each lab also holds", lab_bars, empty="no labs in this round"),
            ident="labs-chart",
        ),
        section(
            "Matches per kind",
            bar_chart(
                "kinds", "our indicators held by at least one other lab", kind_bars, empty="no matches"
            ),
            ident="kinds",
        ),
        section("Kinds by lab", heat_table(rd.per_kind, labs), ident="heat"),
    ]


def _lab_table(rd: Round, checks: Mapping[str, RecordCheck | None]) -> str:
    rows, css = [], []
    for lab in rd.labs:
        check = checks.get(lab.name)
        rows.append(
            [
                cell(text(lab.name, 40)),
                cell(text(lab.status), "status"),
                cell(num(lab.matches) if lab.status == "done" else "\u2014", "num"),
                cell(text(lab.transcript_hash or "\u2014", 16), "hash"),
                cell(text(check.status if check else "no record")),
                cell(text(lab.error or "", 300), "error"),
            ]
        )
        css.append("failed" if lab.status == "failed" else "done")
    return table(
        ["lab", "status", "matches", "transcript hash", "record", "error"],
        rows,
        css="labs",
        row_css=css,
        numeric={2},
    )


def round_html(
    report: Mapping[str, Any],
    records: Mapping[str, Record] | None = None,
    *,
    keys: Iterable[PublicIdentity] = (),
    max_rows: int = 2000,
) -> str:
    """The page for a merged round: ``report`` (a round report's JSON as a dict) and ``records``, each
    pair's disclosure record by lab name (a :class:`MissingRecord` where it could not be read).

    Signatures are checked as in :func:`exchange_html`. A malformed report raises
    :class:`~blindmatch.MalformedFile`.
    """
    rd = read_round(report)
    records = records or {}
    keys = list(keys)
    checks: dict[str, RecordCheck | None] = {}
    for lab in rd.labs:
        rec = records.get(lab.name)
        checks[lab.name] = (
            check_record(rec, keys, transcript_hash=lab.transcript_hash) if isinstance(rec, Mapping) else None
        )
    header = (
        f"<h1>Round {text(rd.round, 60)}</h1>{_NOTICE}"
        f'<p class="meta">we are {text(rd.me, 60)} \u00b7 generated {text(rd.generated, 40)} \u00b7 '
        f"threshold {num(rd.threshold)} labs</p>"
    )
    shared = [ind for ind in rd.indicators if _others(ind, rd.me)]
    over = [rd.indicators[i] for i in rd.over_threshold]
    failed = sum(lab.status == "failed" for lab in rd.labs)
    summary = _summary(
        [
            (num(len(rd.labs) - failed), "labs done"),
            (num(failed), "labs failed"),
            (num(len(shared)), "of our indicators held by another lab"),
            (num(len(over)), f"held by at least {rd.threshold} labs"),
        ]
    )
    blocks = "".join(
        record_block(
            f"Our record of the exchange with {lab.name}",
            records.get(lab.name),
            checks[lab.name],
            peer=lab.name,
        )
        for lab in rd.labs
    )
    body = [
        section("Summary", summary, ident="summary"),
        *_round_charts(rd),
        section("Labs", _lab_table(rd, checks), ident="labs"),
        section(
            f"Held by at least {rd.threshold} labs", _match_table(over, max_rows, held=True), ident="over"
        ),
        section("Our indicators other labs hold", _match_table(shared, max_rows, held=True), ident="shared"),
        section("Disclosure records", blocks or '<p class="empty">no labs</p>', ident="records"),
    ]
    return page(f"blindmatch: round {rd.round}", header, "\n".join(body), _footer(ROUND_FORMAT))
