"""Courses on the local target, as students and staff meet them: the profiles a
course offers, staff who reach only their own students, course folders whose
permissions the mounts enforce, an exam's guarantee, a course past its end,
then the semester's end (archive and restore) and the bill (`report`).

One re-deploy with a `courses:` section serves the whole module; every check
signs in or mints credentials after that deploy.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import docker
import pytest
import requests
import yaml

from swarmhub.hubclient import follow_consent
from tests.integration.conftest import redeployed
from tests.integration.stack import Stack, cli, run_code

pytestmark = pytest.mark.integration

STUDENTS = {"phys-101": ["cs1", "cs2"], "chem-2": ["cs3"], "old-1": ["cs4"]}
STAFF = {"phys-101": "ct1", "chem-2": "ct2"}
EVERYONE = [u for us in STUDENTS.values() for u in us] + list(STAFF.values())


def _courses_config(stack: Stack) -> dict:
    config = yaml.safe_load(stack.config.read_text())
    config["servers"] = {
        **config["servers"],
        "profiles": [
            {"name": "general", "display_name": "General"},
            {"name": "phys", "display_name": "Physics", "mem_reservation": "256M", "cpu_limit": 0.5,
             "mem_limit": "768M"},
            {"name": "chem", "display_name": "Chemistry"},
        ],
    }  # fmt: skip
    today = date.today()
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    exam = {
        "kind": "exam",
        "days": [now.strftime("%a").lower()],
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "timezone": "UTC",
        "min_nodes": 1,
        "overnight": end.date() != start.date(),
    }
    term = {"start": str(today - timedelta(days=7)), "end": str(today + timedelta(days=30))}
    config["courses"] = [
        {"name": "phys-101", "roster": STUDENTS["phys-101"], "staff": [STAFF["phys-101"]],
         "profiles": ["phys"], "shared_folder": True, "nbgrader": True, "windows": [exam],
         **term},
        {"name": "chem-2", "roster": STUDENTS["chem-2"], "staff": [STAFF["chem-2"]],
         "profiles": ["chem"], "shared_folder": True, **term},
        {"name": "old-1", "roster": STUDENTS["old-1"], "profiles": ["chem"],
         "start": str(today - timedelta(days=90)), "end": str(today - timedelta(days=1))},
    ]  # fmt: skip
    return config


@pytest.fixture(scope="module")
def courses(stack: Stack, tmp_path_factory):
    path = tmp_path_factory.mktemp("courses") / "courses.yaml"
    with redeployed(stack, path, _courses_config(stack)) as hub:
        for user in EVERYONE:
            hub.ensure_user(user)
        yield hub


@pytest.fixture(scope="module")
def sessions(courses: Stack) -> dict[str, requests.Session]:
    """Everyone signed in through the login form (which sets their groups)."""
    return {user: courses.login(user) for user in EVERYONE}


def _offered(courses: Stack, session: requests.Session, user: str) -> set[str]:
    r = session.get(f"{courses.url}/hub/spawn/{user}", timeout=30)
    assert r.status_code == 200, r.text[:300]
    return {name for name in ("general", "phys", "chem") if f'value="{name}"' in r.text}


def _service(user: str) -> dict:
    (service,) = docker.from_env().services.list(filters={"name": f"jupyter-{user}"})
    return service.attrs["Spec"]


def _py(courses: Stack, user: str, token: str, code: str) -> str:
    kernel = courses.via_proxy(user, "/api/kernels", token, method="POST", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    try:
        return run_code(courses, user, token, kernel.json()["id"], code)
    finally:
        courses.via_proxy(user, f"/api/kernels/{kernel.json()['id']}", token, method="DELETE")


def _running(courses: Stack, user: str, **options) -> str:
    if not courses.server(user):
        courses.start(user, timeout=180, **options)
    return courses.user_token(user)


def test_groups_follow_the_roster_at_sign_in(courses: Stack, sessions):
    def groups(user: str) -> set[str]:
        return set(courses.api("GET", f"/users/{user}").json()["groups"])

    assert groups("cs1") == groups("cs2") == {"course-phys-101"}
    assert groups("ct1") == {"course-phys-101-staff"}
    assert groups("cs3") == {"course-chem-2"}
    assert groups("cs4") == set(), "a course past its end gave a group"
    assert not courses.api("GET", "/users/ct1").json()["admin"]


def test_a_student_sees_their_course_profiles_and_no_other(courses: Stack, sessions):
    assert _offered(courses, sessions["cs1"], "cs1") == {"general", "phys"}
    assert _offered(courses, sessions["cs3"], "cs3") == {"general", "chem"}
    # A course past its end date offers nothing: only what no course claims
    # (one choice, so no form), and none of its folders.
    for profile in ("chem", "phys"):
        r = courses.api("POST", "/users/cs4/server", json={"profile": profile})
        assert r.status_code == 400, r.text
    assert not courses.server("cs4")
    courses.start("cs4", timeout=180, profile="general")
    mounts = _service("cs4")["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert not [m for m in mounts if ".courses" in m["Source"]], mounts
    courses.stop("cs4", timeout=90)


def test_staff_reach_their_students_only(courses: Stack, sessions):
    token = courses.user_token("ct1")

    def as_ta(method: str, path: str) -> requests.Response:
        return requests.request(
            method,
            f"{courses.url}/hub/api{path}",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        )

    assert {u["name"] for u in as_ta("GET", "/users").json()} == {"cs1", "cs2"}
    # Start a student's server as their TA, use it, stop it.
    assert as_ta("POST", "/users/cs2/server").status_code in (201, 202)
    courses.wait("cs2", ready=True, timeout=180)
    # Open it as a browser does: the hub's OAuth decides, resolving the group.
    browser = sessions["ct1"]
    r = follow_consent(browser, browser.get(f"{courses.url}/user/cs2/lab", timeout=60), 60)
    assert r.status_code == 200 and r.url.startswith(f"{courses.url}/user/cs2/"), r.url
    r = browser.get(f"{courses.url}/user/cs2/api/contents", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert as_ta("DELETE", "/users/cs2/server").status_code in (202, 204)
    courses.wait("cs2", ready=False, timeout=120)
    # Another course's student, and the admin's powers: out of reach.
    assert as_ta("POST", "/users/cs3/server").status_code in (403, 404)
    assert as_ta("GET", "/users/cs3").status_code in (403, 404)
    assert as_ta("POST", "/users/ct1/admin").status_code in (403, 404, 405)
    assert not courses.server("cs3")
    _running(courses, "cs3", profile="chem")
    r = follow_consent(browser, browser.get(f"{courses.url}/user/cs3/lab", timeout=60), 60)
    assert r.status_code == 403 or not r.url.startswith(f"{courses.url}/user/cs3/"), r.url
    courses.stop("cs3", timeout=90)


def test_shared_folder_is_read_only_for_students_and_writable_for_staff(courses: Stack, sessions):
    ta = _running(courses, "ct1")
    student = _running(courses, "cs1", profile="phys")
    text = f"week 1 notes {time.time()}"
    courses.put_text("ct1", ta, "shared/phys-101/notes.txt", text)
    on_disk = courses.homes_dir / ".courses" / "phys-101" / "shared" / "notes.txt"
    assert on_disk.read_text() == text
    r = courses.via_proxy(
        "cs1", "/api/contents/shared/phys-101/notes.txt", student, params={"content": 1}
    )
    assert r.status_code == 200 and r.json()["content"] == text
    # Writing as the student: refused by the read-only mount, whatever the server says.
    out = _py(
        courses,
        "cs1",
        student,
        "import os\ntry:\n open(os.path.expanduser('~/shared/phys-101/mine.txt'),'w')"
        "\n print('wrote')\nexcept OSError as e:\n print(e.errno)",
    )
    assert out.strip() == "30", out  # EROFS
    assert not (on_disk.parent / "mine.txt").exists()
    mounts = {m["Target"]: m for m in _service("cs1")["TaskTemplate"]["ContainerSpec"]["Mounts"]}
    assert mounts["/home/jovyan/shared/phys-101"]["ReadOnly"] is True


def test_nbgrader_submissions_are_private_between_students(courses: Stack, sessions):
    tokens = {u: _running(courses, u, profile="phys") for u in ("cs1", "cs2")}
    inbound = "/srv/nbgrader/exchange/phys-101/inbound"
    for user, token in tokens.items():
        _py(courses, user, token, f"open('{inbound}/{user}+hw1+2026.txt','w').write('{user}')")
    listing = f"import os, json\nprint(json.dumps(os.listdir('{inbound}')))"
    seen = {u: json.loads(_py(courses, u, t, listing)) for u, t in tokens.items()}
    assert seen["cs1"] == ["cs1+hw1+2026.txt"]
    assert seen["cs2"] == ["cs2+hw1+2026.txt"]
    area = courses.homes_dir / ".courses" / "phys-101" / "exchange" / "inbound"
    assert sorted(p.name for p in area.iterdir()) == ["cs1", "cs2"]
    # Staff see every student's folder.
    ta = _running(courses, "ct1")
    listed = _py(courses, "ct1", ta, f"import os\nprint(sorted(os.listdir('{inbound}')))")
    assert "cs1" in listed and "cs2" in listed


def test_an_exam_guarantees_each_student_their_limit(courses: Stack, sessions):
    _running(courses, "cs1", profile="phys")
    _running(courses, "cs3", profile="chem")
    phys = _service("cs1")["TaskTemplate"]["Resources"]
    chem = _service("cs3")["TaskTemplate"]["Resources"]
    assert phys["Reservations"]["MemoryBytes"] == phys["Limits"]["MemoryBytes"] == 768 * 2**20
    assert chem["Reservations"]["MemoryBytes"] < chem["Limits"]["MemoryBytes"]


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_archive_then_restore_gives_back_identical_files(courses: Stack, sessions, tmp_path):
    token = _running(courses, "cs3", profile="chem")
    courses.put_text("cs3", token, "lab1.py", "print('titration')\n")
    _py(courses, "cs3", token, "open('data.bin','wb').write(bytes(range(256))*512)")
    courses.stop("cs3", timeout=90)
    home = courses.homes_dir / "cs3"
    before = _digests(home)
    assert "lab1.py" in before and "data.bin" in before
    dest = tmp_path / "archive"
    cli("archive", "--course", "chem-2", "--to", str(dest), config=courses.config)
    after_archive = _digests(home)
    assert "lab1.py" not in after_archive, "the home was kept after a verified archive"
    note = [name for name in after_archive if "WHERE" in name]
    assert note and str(dest) in (home / note[0]).read_text()
    cli("restore", "cs3", "--course", "chem-2", "--from", str(dest), config=courses.config)
    restored = _digests(home)
    assert {k: v for k, v in restored.items() if k in before} == before
    # And the student finds them in a new server.
    token = _running(courses, "cs3", profile="chem")
    r = courses.via_proxy("cs3", "/api/contents/lab1.py", token, params={"content": 1})
    assert r.status_code == 200 and "titration" in r.json()["content"]


def test_report_matches_the_hubs_own_records(courses: Stack, sessions, tmp_path):
    _running(courses, "cs1", profile="phys")
    _running(courses, "cs3", profile="chem")
    events_file = courses.state_dir / "hub" / "events.jsonl"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    mine = [e for e in events if e["user"] in EVERYONE]
    started = [e for e in mine if e["event"] == "server_started"]
    assert {e["course"] for e in started if e["user"] == "cs1"} == {"phys-101"}
    assert {e["profile"] for e in started if e["user"] == "cs3"} == {"chem"}
    # Each user's last start is the one the hub knows, to the second.
    for user in ("cs1", "cs3"):
        last = max((e for e in started if e["user"] == user), key=lambda e: e["time"])
        hub_started = datetime.fromisoformat(courses.server(user)["started"].replace("Z", "+00:00"))
        assert abs(datetime.fromisoformat(last["time"]) - hub_started) < timedelta(seconds=60)
        (task,) = (
            docker.from_env()
            .services.get(f"jupyter-{user}")
            .tasks(filters={"desired-state": "running"})
        )
        assert last["node"] == task["NodeID"]
    stopped = [e for e in mine if e["event"] == "server_stopped"]
    assert any(e["user"] == "cs2" and e["reason"] == "user" for e in stopped)
    out = cli("report", "--since", "2h", "--price-per-node-hour", "1", config=courses.config).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "phys-101" in rows and "chem-2" in rows, out
    exported = tmp_path / "week.jsonl"
    cli("report", "--since", "2h", "--export", str(exported), config=courses.config)
    replay = cli("simulate", "--replay", str(exported), config=courses.config).stdout
    assert "recorded by the hub" in replay, replay
    for user in EVERYONE:
        if courses.server(user):
            courses.stop(user, timeout=90)
