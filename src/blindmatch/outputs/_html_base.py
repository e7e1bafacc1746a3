"""The HTML page's building blocks: escaping of hostile text, the one inline style sheet and its CSP hash,
the page skeleton, tables.

Every string that reaches the page goes through :func:`text` (or :func:`attr`): each control, bidi,
format or separator character is replaced by its visible escape (``\\u202e``, as :func:`safe_text` does)
and the result is HTML-escaped with quotes. No function here emits JavaScript, an event handler, a
``style=`` attribute or a URL.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Container, Iterable, Sequence

from .._text import safe_text

__all__ = ["CSP", "STYLE", "attr", "capped_rows", "cell", "num", "page", "section", "table", "text"]

#: Values longer than this are shown cut (with an ellipsis), in full in the ``title`` attribute.
SHOWN_CHARS = 80

STYLE = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#d8dde6;--bg:#f6f7f9;--card:#fff;--accent:#2f6fd0;
--ok:#1b7f3b;--bad:#b3261e;--unknown:#8a6100}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,Helvetica,Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px}
header.top{border-bottom:3px solid var(--accent);margin-bottom:20px;padding-bottom:8px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:0 0 12px}
h3{font-size:16px;margin:16px 0 8px}
.notice{color:var(--bad);font-weight:600;margin:4px 0}
.meta{color:var(--muted);margin:2px 0}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin:0 0 18px}
.summary{display:flex;flex-wrap:wrap;gap:12px;margin:0;padding:0;list-style:none}
.summary li{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 14px}
.summary .n{display:block;font-size:22px;font-weight:700}
.summary .what{color:var(--muted);font-size:13px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top}
th{background:var(--bg);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fdecea}
.mono,.hash{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.hash,td.mono{word-break:break-all}
figure{margin:0}
.cut{border-bottom:1px dotted var(--muted)}
.more{color:var(--muted);font-style:italic}
.empty{color:var(--muted)}
.error{color:var(--bad)}
svg.chart{display:block;max-width:100%;height:auto}
svg.chart text{font:13px system-ui,sans-serif;fill:var(--ink)}
svg.chart .bar{fill:var(--accent)}
svg.chart .bar.failed{fill:var(--bad)}
svg.chart .track{fill:var(--bg)}
svg.chart .bar-value{fill:var(--muted)}
svg.chart .bar-value.failed{fill:var(--bad);font-weight:600}
table.heat{width:auto}
table.heat td.num,table.heat th.num{min-width:72px}
table.heat .h0{color:var(--muted)}
table.heat .h1{background:#e3edfb}
table.heat .h2{background:#bcd3f5}
table.heat .h3{background:#86aeea;color:#fff}
table.heat .h4{background:#2f6fd0;color:#fff}
.record{border-left:4px solid var(--line);padding-left:14px;margin:14px 0}
.record.verified{border-color:var(--ok)}
.record.invalid{border-color:var(--bad)}
.record.unchecked{border-color:var(--unknown)}
.record ul.words{margin:6px 0 10px;padding-left:20px}
.check{font-weight:700;margin:6px 0}
.check.verified{color:var(--ok)}
.check.invalid{color:var(--bad)}
.check.unchecked{color:var(--unknown)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
footer{color:var(--muted);font-size:13px;margin-top:12px}
""".lstrip()

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")

#: The page's Content-Security-Policy: nothing may load or run; only the one inline style sheet applies.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def _shown(value: object) -> str:
    s = value if isinstance(value, str) else str(value)
    return safe_text(s, len(s))


def attr(value: object) -> str:
    """``value`` for an attribute (double-quoted): unsafe characters made visible, then escaped."""
    return html.escape(_shown(value), quote=True)


def text(value: object, limit: int | None = None) -> str:
    """``value`` as HTML text; cut to ``limit`` characters with the whole value in a ``title``."""
    shown = _shown(value)
    if limit is None or len(shown) <= limit:
        return html.escape(shown, quote=True)
    cut = html.escape(shown[: limit - 1], quote=True)
    return f'<span class="cut" title="{html.escape(shown, quote=True)}">{cut}\u2026</span>'


def num(n: int | None) -> str:
    """A count with thousands separators; ``None`` as an em dash."""
    return "\u2014" if n is None else f"{n:,}"


def cell(content: str, css: str = "") -> str:
    """A ``<td>`` whose ``content`` is HTML already (built with :func:`text`)."""
    return f'<td class="{css}">{content}</td>' if css else f"<td>{content}</td>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    css: str = "",
    row_css: Sequence[str] = (),
    numeric: Container[int] = (),
) -> str:
    """A table: ``headers`` are plain text (escaped here), each row's cells are ``<td>`` HTML from
    :func:`cell`. ``row_css`` gives classes of the rows, in order; ``numeric`` the columns whose heading
    is right-aligned."""
    head = "".join(
        f'<th class="num">{text(h, 30)}</th>' if i in numeric else f"<th>{text(h, 30)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for i, row in enumerate(rows):
        klass = row_css[i] if i < len(row_css) and row_css[i] else ""
        open_tr = f'<tr class="{attr(klass)}">' if klass else "<tr>"
        body.append(open_tr + "".join(row) + "</tr>")
    cls = f' class="{attr(css)}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def capped_rows(n_total: int, n_shown: int, what: str) -> str:
    """A line saying how many rows were left out of a long table (nothing when none were)."""
    if n_total <= n_shown:
        return ""
    return f'<p class="more">\u2026 and {num(n_total - n_shown)} more {text(what)} (see the JSON report)</p>'


def section(heading: str, body: str, *, ident: str = "") -> str:
    """A ``<section>`` with an ``<h2>`` (``heading`` is plain text) and HTML ``body``."""
    sid = f' id="{attr(ident)}"' if ident else ""
    return f"<section{sid}><h2>{text(heading)}</h2>{body}</section>"


def page(title: str, header: str, body: str, footer: str) -> str:
    """The whole document: ``title`` plain text; ``header``, ``body`` and ``footer`` HTML."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f'<header class="top">{header}</header>\n{body}\n<footer>{footer}</footer>\n'
        "</main>\n</body>\n</html>\n"
    )
