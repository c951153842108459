"""Nodes and servers over the period: self-contained HTML (inline SVG), or PNG.

The HTML (swarmhub.report.week) needs nothing but the standard library; the
PNG needs matplotlib, which is not a dependency of swarmhub: it is used when
it is installed, and asked for by name when it is not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from swarmhub.autoscaler.trace import Visit
from swarmhub.errors import SwarmhubError
from swarmhub.report import week
from swarmhub.report.billing import Bill, timeline


def write(
    path: str | Path,
    b: Bill,
    title: str,
    table: str,
    *,
    course: str | None,
    bill_of: Callable[[datetime, datetime], Bill],
    courses: dict,
    found: list[Visit],
) -> None:
    """The page of swarmhub.report.week for .html; for .png, servers and nodes
    over the whole period (matplotlib's two step charts)."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        _png(path, timeline(b, course), title)
    elif path.suffix.lower() in (".html", ".htm"):
        if course is not None:
            courses = {name: c for name, c in courses.items() if name == course}
        text = week.page(b, title, table, lambda c: timeline(b, c), bill_of, courses, found)
        path.write_text(text, encoding="utf-8")
    else:
        raise SwarmhubError(f"--plot {path}: write a .html or a .png file")


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
