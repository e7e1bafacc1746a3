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


def rows(markdown: str) -> list[tuple[int, float, float]]:
    """``(log2 n, slower party's seconds, larger peak RSS MiB)`` for each row of the streaming table."""
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
            out.append((exp, secs, rss))
    return sorted(set(out))


def _panel(points: list[tuple[int, float]], x0: float, title: str, unit: str) -> str:
    xs = [p[0] for p in points]
    ys = [math.log10(p[1]) for p in points]
    lo, hi = math.floor(min(ys)), math.ceil(max(ys))
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
    path = " ".join(f"{sx(e):.1f},{sy(v):.1f}" for e, v in zip(xs, ys, strict=True))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#2563eb" stroke-width="2"/>')
    for e, v, (_, raw) in zip(xs, ys, points, strict=True):
        parts.append(f'<circle cx="{sx(e):.1f}" cy="{sy(v):.1f}" r="3.5" fill="#2563eb"/>')
        parts.append(f'<text x="{sx(e) + 6:.1f}" y="{sy(v) - 6:.1f}">{raw:,.0f}</text>')
    parts.append(f'<text x="{x0 + W / 2}" y="{H - 4}" text-anchor="middle">items per side</text>')
    return "\n".join(parts)


def svg(data: list[tuple[int, float, float]]) -> str:
    time_panel = _panel([(e, s) for e, s, _ in data], 0, "time, slower party (s)", "s")
    rss_panel = _panel([(e, r) for e, _, r in data], W, "peak RSS, larger party (MiB)", "MiB")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 10}" '
        'font-family="sans-serif" font-size="11">\n'
        f"<title>Streaming DH exchange: time and memory against set size</title>\n{time_panel}\n{rss_panel}\n"
        "</svg>\n"
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
