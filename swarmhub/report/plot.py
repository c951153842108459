"""Nodes and servers over the period: self-contained HTML (inline SVG), or PNG.

The HTML needs nothing but this module; the PNG needs matplotlib, which is
not a dependency of swarmhub: it is used when it is installed, and asked for
by name when it is not.
"""

from __future__ import annotations

import html
import importlib
from datetime import datetime
from pathlib import Path

from swarmhub.errors import SwarmhubError

W, H, PAD = 900, 180, 48  # one panel


def write(path: str | Path, points: list[tuple[datetime, int, int]], title: str, table: str):
    path = Path(path)
    if path.suffix.lower() == ".png":
        _png(path, points, title)
    elif path.suffix.lower() in (".html", ".htm"):
        path.write_text(page(points, title, table), encoding="utf-8")
    else:
        raise SwarmhubError(f"--plot {path}: write a .html or a .png file")


def page(points, title: str, table: str) -> str:
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>\n"
        + panel(points, 1, "servers running", "#1f77b4")
        + "\n"
        + panel(points, 2, "nodes hosting a server", "#ff7f0e")
        + f"\n<pre>{html.escape(table)}</pre>\n</body></html>\n"
    )


def panel(points, column: int, label: str, colour: str) -> str:
    """One step chart of points[column] over time, as an <svg> element."""
    t0, t1 = points[0][0], points[-1][0]
    span = max((t1 - t0).total_seconds(), 1.0)
    top = max([p[column] for p in points] + [1])

    def x(when: datetime) -> float:
        return PAD + (W - 2 * PAD) * (when - t0).total_seconds() / span

    def y(value: int) -> float:
        return H - PAD / 2 - (H - PAD) * value / top

    path, last = [], None
    for p in points:
        if last is None:
            path.append(f"M{x(p[0]):.1f},{y(p[column]):.1f}")
        else:
            path.append(f"H{x(p[0]):.1f}V{y(p[column]):.1f}")
        last = p
    ticks = "".join(
        f'<text x="{x(t):.1f}" y="{H - 4}" font-size="10" text-anchor="middle">'
        f"{t:%a %d %H:%M}</text>"
        for t in (t0 + (t1 - t0) * k / 6 for k in range(7))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'role="img" aria-label="{html.escape(label)}">'
        f'<text x="{PAD}" y="14" font-size="12">{html.escape(label)} (max {top})</text>'
        f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{W - PAD}" y2="{y(0):.1f}" stroke="#999"/>'
        f'<text x="{PAD - 6}" y="{y(top) + 4:.1f}" font-size="10" text-anchor="end">{top}</text>'
        f'<text x="{PAD - 6}" y="{y(0) + 4:.1f}" font-size="10" text-anchor="end">0</text>'
        f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        f"{ticks}</svg>"
    )


def _png(path: Path, points, title: str) -> None:
    try:
        # By name: matplotlib is optional, never a dependency of the CLI.
        mpl = importlib.import_module("matplotlib")
        mpl.use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise SwarmhubError(
            f"--plot {path}: a PNG needs matplotlib (pip install matplotlib); "
            "or write a .html plot, which needs nothing"
        ) from None
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 5))
    times = [p[0] for p in points]
    top.step(times, [p[1] for p in points], where="post")
    top.set_ylabel("servers")
    bottom.step(times, [p[2] for p in points], where="post", color="tab:orange")
    bottom.set_ylabel("nodes")
    fig.suptitle(title)
    fig.autofmt_xdate()
    fig.savefig(path, dpi=100)
    plt.close(fig)
