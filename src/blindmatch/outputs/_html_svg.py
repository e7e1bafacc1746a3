"""Charts as inline SVG, built here (no script, no style attribute): horizontal bar charts and the
kind-by-lab heat-map table.

Geometry goes in SVG attributes (``x``, ``width``, ...), colours in the page's style sheet by class, so the
page's CSP (no inline styles) holds. Labels are hostile text: escaped by :func:`text`, cut visibly, in full
in each bar's ``<title>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ._html_base import attr, cell, num, table, text

__all__ = ["Bar", "bar_chart", "heat_table"]

_WIDTH = 760
_LABEL_W = 230
_BAR_W = 420
_ROW_H = 28
_BAR_H = 18
_LABEL_CHARS = 30


class Bar(NamedTuple):
    """One bar: its label, its length, the text after it (default: the value) and an extra class."""

    label: str
    value: int
    shown: str | None = None
    css: str = ""


def _bar(i: int, bar: Bar, top: int) -> str:
    y = i * _ROW_H
    width = round(_BAR_W * bar.value / top) if top > 0 else 0
    label = bar.label if len(bar.label) <= _LABEL_CHARS else bar.label[: _LABEL_CHARS - 1] + "\u2026"
    klass, value_class = f"bar {bar.css}".strip(), f"bar-value {bar.css}".strip()
    shown = bar.shown if bar.shown is not None else num(bar.value)
    return (
        f'<g class="row"><title>{text(bar.label)}: {text(shown)}</title>'
        f'<text class="bar-label" x="{_LABEL_W - 8}" y="{y + 19}" text-anchor="end">{text(label)}</text>'
        f'<rect class="track" x="{_LABEL_W}" y="{y + 5}" width="{_BAR_W}" height="{_BAR_H}" rx="3"/>'
        f'<rect class="{attr(klass)}" x="{_LABEL_W}" y="{y + 5}" width="{max(width, 0)}" '
        f'height="{_BAR_H}" rx="3"/>'
        f'<text class="{attr(value_class)}" x="{_LABEL_W + _BAR_W + 8}" y="{y + 19}">{text(shown)}</text></g>'
    )


def bar_chart(name: str, caption: str, bars: Sequence[Bar], *, empty: str = "nothing to show") -> str:
    """A horizontal bar chart (``name`` goes in ``data-chart``), or a line saying ``empty``."""
    if not bars:
        return f'<p class="empty" data-chart="{attr(name)}">{text(empty)}</p>'
    top = max(b.value for b in bars)
    height = len(bars) * _ROW_H + 6
    rows = "".join(_bar(i, b, top) for i, b in enumerate(bars))
    return (
        f'<figure><svg class="chart" data-chart="{attr(name)}" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{attr(caption)}">{rows}</svg>'
        f'<figcaption class="meta">{text(caption)}</figcaption></figure>'
    )


def _heat(n: int, top: int) -> str:
    if n <= 0 or top <= 0:
        return "h0"
    return f"h{min(4, 1 + (4 * (n - 1)) // top)}"


def heat_table(per_kind: Mapping[str, Mapping[str, int]], labs: Sequence[str]) -> str:
    """Kinds down, labs across: how many of our indicators of each kind each lab holds, shaded."""
    if not per_kind:
        return '<p class="empty">no matches per kind</p>'
    top = max((n for row in per_kind.values() for n in row.values()), default=0)
    rows = [
        [cell(text(kind, _LABEL_CHARS))]
        + [
            cell(num(per_kind[kind].get(lab, 0)), f"num {_heat(per_kind[kind].get(lab, 0), top)}")
            for lab in labs
        ]
        for kind in per_kind
    ]
    return table(["kind", *labs], rows, css="heat", numeric=range(1, len(labs) + 1))
