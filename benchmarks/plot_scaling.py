"""The scaling figure of docs/scaling.md from a benchmark run's Markdown (``make bench`` output, or the
"Measured" table of docs/streaming.md): time and peak RSS per party against the set size, both axes
logarithmic, as one self-contained SVG (no plotting library needed).

    python -m benchmarks.plot_scaling benchmarks/last-run.md docs/scaling.svg
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

_HEADER = "| n per side | engine | initiator s (prepare)"
W, H, PAD = 360, 240, 48


COLORS = {"DH": "#2563eb", "OT": "#ea580c"}


def rows(markdown: str) -> list[tuple[str, int, float, float]]:
    """``(engine, log2 n, slower party's seconds, larger peak RSS MiB)`` for each row of the streaming
    table."""
    out = []
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(_HEADER):
            continue
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip("|").split("|")]
            exp = int(re.fullmatch(r"2\^(\d+)", cells[0]).group(1))  # type: ignore[union-attr]
            secs = max(float(cells[k].split()[0].replace(",", "")) for k in (2, 3))
            rss = max(float(cells[k].replace(",", "")) for k in (4, 5))
            out.append((cells[1], exp, secs, rss))
    return sorted(set(out))


def _panel(series: dict[str, list[tuple[int, float]]], x0: float, title: str, unit: str) -> str:
    xs = sorted({e for points in series.values() for e, _ in points})
    every = [math.log10(v) for points in series.values() for _, v in points]
    lo, hi = math.floor(min(every)), math.ceil(max(every))
    hi = max(hi, lo + 1)

    def sx(e: float) -> float:
        return x0 + PAD + (e - min(xs)) / max(1, max(xs) - min(xs)) * (W - 2 * PAD)

    def sy(v: float) -> float:
        return H - PAD + 10 - (v - lo) / (hi - lo) * (H - 2 * PAD)

    parts = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">{title}</text>']
    for d in range(lo, hi + 1):
        parts.append(f'<line x1="{x0 + PAD}" x2="{x0 + W - PAD}" y1="{sy(d):.1f}" y2="{sy(d):.1f}" '
                     'stroke="#ddd"/>')  # fmt: skip
        parts.append(
            f'<text x="{x0 + PAD - 6}" y="{sy(d) + 4:.1f}" text-anchor="end">{10**d:g} {unit}</text>'
        )
    for e in xs:
        parts.append(f'<text x="{sx(e):.1f}" y="{H - PAD + 28}" text-anchor="middle">2^{e}</text>')
    for k, (engine, points) in enumerate(sorted(series.items())):
        color = COLORS.get(engine, "#555")
        path = " ".join(f"{sx(e):.1f},{sy(math.log10(v)):.1f}" for e, v in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for e, v in points:
            y = sy(math.log10(v))
            parts.append(f'<circle cx="{sx(e):.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
            parts.append(f'<text x="{sx(e) + 6:.1f}" y="{y - 6:.1f}" fill="{color}">{v:,.0f}</text>')
        parts.append(f'<text x="{x0 + PAD + 4}" y="{34 + 13 * k}" fill="{color}">{engine} engine</text>')
    parts.append(f'<text x="{x0 + W / 2}" y="{H - 4}" text-anchor="middle">items per side</text>')
    return "\n".join(parts)


def svg(data: list[tuple[str, int, float, float]]) -> str:
    times: dict[str, list[tuple[int, float]]] = {}
    rss: dict[str, list[tuple[int, float]]] = {}
    for engine, e, secs, mib in data:
        times.setdefault(engine, []).append((e, secs))
        rss.setdefault(engine, []).append((e, mib))
    time_panel = _panel(times, 0, "time, slower party (s)", "s")
    rss_panel = _panel(rss, W, "peak RSS, larger party (MiB)", "MiB")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 10}" '
        'font-family="sans-serif" font-size="11">\n'
        f"<title>Streaming exchanges (DH and OT engines): time and memory against set size</title>\n"
        f"{time_panel}\n{rss_panel}\n</svg>\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = rows(Path(argv[0]).read_text(encoding="utf-8"))
    if len(data) < 2:
        print("no streaming table with two or more rows in " + argv[0], file=sys.stderr)
        return 1
    Path(argv[1]).write_text(svg(data), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
