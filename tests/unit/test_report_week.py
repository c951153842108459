"""`report --plot week.html`: the instructor's page, checked in headless Chromium.

The hand-made week of test_report (intro and stats meet on Tuesday), with a
swarmhub.yaml that gives the two courses their windows: intro a lab Tuesday
10:00-12:00 UTC, stats a lecture Tuesday 11:00-15:00 Europe/Berlin (10:00-
14:00 UTC, the hours cy's server ran).
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmhub.autoscaler.trace import visits, write_events
from swarmhub.cli import main as cli
from swarmhub.config.courses import Course
from swarmhub.report import billing, reaching
from swarmhub.report.week import class_windows
from tests.conftest import require_tool
from tests.unit.test_report import END, GIB, START, at, ev, week

CONFIG = """\
courses:
  - name: intro
    roster: [ada, bob]
    start: 2025-03-01
    end: 2025-06-30
    windows:
      - {days: [tue], start: '10:00', end: '12:00', min_nodes: 1, kind: lab}
  - name: stats
    roster: [cy, dan]
    timezone: Europe/Berlin
    start: 2025-03-01
    end: 2025-06-30
    windows:
      - {days: [tue, thu], start: '11:00', end: '15:00', min_nodes: 1, kind: lecture}
  - name: ml
    roster: [eve]
    start: 2025-03-01
    end: 2025-06-30
    windows:
      - {days: [fri], start: '09:00', end: '11:00', min_nodes: 2, kind: exam}
  - name: later
    roster: [fay]
    start: 2025-09-01
    end: 2025-12-20
    windows:
      - {days: [mon], start: '09:00', end: '11:00', min_nodes: 2}
"""


@pytest.fixture
def page(tmp_path, monkeypatch) -> Path:
    import swarmhub.report as reporting

    monkeypatch.setattr(reporting, "utcnow", lambda: END)
    (tmp_path / "swarmhub.yaml").write_text(CONFIG)
    write_events(tmp_path / "events.jsonl", week())
    out = tmp_path / "week.html"
    result = CliRunner().invoke(
        cli,
        ["report", "--config", str(tmp_path / "swarmhub.yaml"), "--events",
         str(tmp_path / "events.jsonl"), "--price-per-node-hour", "0.5", "--plot", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _section(text: str, course: str) -> str:
    return text.split(f"id='course-{course}'")[1].split("</section>")[0]


def test_the_page_has_a_section_per_course_with_its_days_windows_wait_and_cost(page):
    text = page.read_text()
    assert "<script" not in text and "http" not in text.replace("http://www.w3.org", "")
    # ml met on Friday and nobody came: its section shows the exam window; `later`
    # has not begun
    assert re.findall(r"id='course-([a-z]+)'", text) == ["intro", "stats", "ml"]
    ml = _section(text, "ml")
    assert "exam 09:00-11:00" in ml and "aria-label='Friday 2025-03-28'" in ml
    assert "no server of this course" in ml and "$0.00" in ml
    intro, stats = _section(text, "intro"), _section(text, "stats")
    # Tuesday is drawn; the quiet days are one line, not six empty strips
    assert "aria-label='Tuesday 2025-03-25'" in intro and intro.count("class='day'") == 1
    assert "No server and no class: Mon 24 Mar, Wed 26 Mar, Thu 27 Mar" in intro
    # stats also meets on Thursday: its window is drawn on an otherwise empty day
    assert stats.count("class='day'") == 2 and "aria-label='Thursday 2025-03-27'" in stats
    assert "days in Europe/Berlin" in stats
    assert intro.count("class='window'") == 1 and "lab 10:00-12:00" in intro
    assert stats.count("class='window'") == 2 and "lecture 11:00-15:00" in stats
    # the course's figures: cost and wait as the table's
    assert "$1.17" in intro and "$2.33" in stats
    assert "wait p50 10 s, p95 30 s" in intro and "1 failed" in stats
    assert "4.0 server-h, 2.3 node-h, $1.17" in intro
    # each request marked at its time, coloured by its wait; dan's failed start a cross
    assert intro.count("class='spawn'") == 2 and "<title>10:59: waited 30 s</title>" in intro
    assert stats.count("class='spawn'") == 1 and stats.count("class='spawn failed'") == 1
    assert "<title>16:00: never started</title>" in stats  # 15:00 UTC is 16:00 in Berlin


def test_a_window_is_placed_in_its_zone_on_its_days_within_the_course_s_dates():
    course = Course.model_validate(
        {"name": "stats", "roster": ["cy"], "timezone": "Europe/Berlin", "start": "2025-03-25",
         "end": "2025-06-30", "windows": [{"days": ["mon", "tue"], "start": "23:00",
                                           "end": "01:00", "overnight": True, "min_nodes": 1}]}
    )  # fmt: skip
    got = class_windows(course, START, END)
    # Monday the 24th is before the course; Tuesday 23:00 CET is 22:00 UTC; the
    # next Monday (the 31st) is after the period
    assert [(w.start.astimezone(START.tzinfo), w.end - w.start) for w in got] == [
        (at(22), timedelta(hours=2))
    ]


def _png_colours(path: Path) -> int:
    """How many distinct pixel colours a PNG (8-bit RGB/RGBA, as Chromium writes) has."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, head = 8, b"", None
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + size
    width, height, depth, colour_type = head[:4]
    assert depth == 8 and colour_type in (2, 6)
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    colours, prev = set(), bytearray(stride)
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 255
        if row % 4 == 0:  # every 4th row is plenty to count colours
            colours.update(bytes(line[i : i + 3]) for i in range(0, stride, bpp * 2))
        prev = line
    return len(colours)


def test_chromium_renders_the_page(page, tmp_path):
    chromium = require_tool("chromium")
    shot = tmp_path / "week.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1400,1200", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000
    # text, the window green, the servers' blue, the nodes' orange: not a blank page
    assert _png_colours(shot) > 50


def test_a_day_s_bill_from_the_visits_reaching_it_is_the_bill_from_every_event():
    events = week() + [  # and one across midnight, one asked for at 23:59 that starts at 00:01
        ev(at(23, day=2), "server_started", "eve", "intro", GIB, node="n1"),
        ev(at(1, day=3), "server_stopped", "eve", "intro", GIB, node="n1"),
        ev(at(23 + 59 / 60, day=3), "spawn_requested", "fay", "stats", GIB),
        ev(at(1 / 60, day=4), "server_started", "fay", "stats", GIB, node="n2",
           spawn_wait_seconds=120),
    ]  # fmt: skip
    events.sort(key=lambda e: e.time)
    found = visits(events)
    for day in range(-1, 8):
        a, z = START + timedelta(days=day), START + timedelta(days=day + 1)
        whole = billing.bill(events, a, z, price=0.5)
        part = billing.bill(events, a, z, price=0.5, found=reaching(found, a, z))
        assert (part.courses, part.total, part.nodes) == (whole.courses, whole.total, whole.nodes)
        assert len(reaching(found, a, z)) <= len(found)
