"""A student opens JupyterLab: no instructor tools (nbgrader's Create
Assignment, Formgrader, course list) and no news prompt; staff and admins keep
the tools. The hub decides at spawn (the server's JUPYTER_CONFIG_PATH); the
image carries the two configurations (images/notebook/)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from swarmhub.config import parse_config
from swarmhub.hub.spawner import SwarmhubSpawner
from tests.conftest import REPO

IMAGE = REPO / "images" / "notebook"
TOOLS = ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader")
CFG = parse_config(
    {
        "courses": [
            {
                "name": "phys-101",
                "roster": ["bob"],
                "staff": ["carol"],
                "start": "2026-01-01",
                "end": "2099-12-31",
                "nbgrader": True,
            }
        ]
    },
    "t",
)


class _Spawner(SwarmhubSpawner):
    client = None


def _env(monkeypatch, name: str, *groups: str, admin: bool = False) -> dict:
    monkeypatch.setattr("swarmhub.config.courses.utcnow", lambda: datetime(2026, 10, 6, tzinfo=UTC))
    user = SimpleNamespace(
        name=name,
        admin=admin,
        groups=[SimpleNamespace(name=g) for g in groups],
        url=f"/user/{name}/",
        base_url="/",
        escaped_name=name,
        settings={},
    )
    hub = SimpleNamespace(
        public_host="",
        url="http://hub:8081/hub/",
        base_url="/hub/",
        api_url="http://hub:8081/hub/api",
    )
    sp = _Spawner(user=user, hub=hub, courses=list(CFG.courses))
    sp.log = logging.getLogger("test")
    sp.api_token = "t"  # noqa: S105 - a stand-in
    return sp.get_env()


def test_a_student_s_server_gets_the_student_configuration(monkeypatch):
    assert _env(monkeypatch, "bob", "course-phys-101")["JUPYTER_CONFIG_PATH"] == (
        "/etc/jupyter/student"
    )
    assert _env(monkeypatch, "zoe")["JUPYTER_CONFIG_PATH"] == "/etc/jupyter/student"


def test_staff_and_admins_keep_the_instructor_tools(monkeypatch):
    assert "JUPYTER_CONFIG_PATH" not in _env(monkeypatch, "carol", "course-phys-101-staff")
    assert "JUPYTER_CONFIG_PATH" not in _env(monkeypatch, "prof", admin=True)


def test_the_student_configuration_hides_the_instructor_tools():
    page = json.loads((IMAGE / "student" / "labconfig" / "page_config.json").read_text())
    assert all(page["disabledExtensions"].get(t) is True for t in TOOLS)
    server = json.loads(
        (IMAGE / "student" / "jupyter_server_config.d" / "swarmhub-student.json").read_text()
    )
    off = server["ServerApp"]["jpserver_extensions"]
    assert off["nbgrader.server_extensions.formgrader"] is False
    # What students need stays: fetching, submitting, validating.
    assert "nbgrader.server_extensions.assignment_list" not in off
    docker = (IMAGE / "Dockerfile").read_text()
    assert "COPY student/ /etc/jupyter/student/" in docker


def test_nobody_gets_the_news_prompt():
    page = json.loads((IMAGE / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True
    assert (
        "COPY labconfig/page_config.json /etc/jupyter/labconfig/"
        in (IMAGE / "Dockerfile").read_text()
    )
