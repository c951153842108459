"""Course groups from GitHub teams, end to end: a real JupyterHub and the real
GitHubOAuthenticator (teams in auth state, manage_groups), configured by our
hubconfig, against the local fake GitHub. A team change on GitHub shows in the
user's course groups at their next sign-in, and the course's staff role, held
by its staff group, lets a TA see that course's students and nobody else.

No Docker: the same harness as test_github_oauth.py (a hub process on
loopback, its own configurable-http-proxy, sqlite, no user server started).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from swarmhub.config import parse_config
from tests.fixtures.fake_github import FakeGitHub
from tests.integration.github_hub import CLIENT_ID, CLIENT_SECRET, running_hub
from tests.integration.github_hub import sign_in as _sign_in

pytestmark = pytest.mark.integration

SERVICE_TOKEN = "test-courses-service-token-0123456789"  # noqa: S105 - test value
CLI_TOKEN = "test-courses-cli-token-0123456789"  # noqa: S105 - test value
ROSTER, STAFF = "course-phys-101", "course-phys-101-staff"


@pytest.fixture(scope="module")
def github():
    fake = FakeGitHub(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        users={"ana": 11, "ben": 12, "tom": 13, "olive": 14, "prof": 15},
        org_members={"uni": {"ana", "ben", "tom", "olive", "prof"}},
        team_members={
            "uni:phys-students": {"ana", "ben"},
            "uni:phys-tas": {"tom"},
            # Sorts before phys-tas: with one team a page, tom's course team is
            # on the second page, so it counts only if the hub follows the Link.
            "uni:chess-club": {"tom", "olive"},
        },
        teams_per_page=1,
    ).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def hub(github: FakeGitHub, tmp_path_factory):
    """A JupyterHub process whose sign-in and roles come from hubconfig's own code."""
    today = datetime.now(UTC).date()
    config = parse_config(
        {
            "hub": {
                "auth": {
                    "kind": "github",
                    "admin_users": ["prof"],
                    "github": {
                        "client_id": CLIENT_ID,
                        # The course's teams admit its people; olive only by name.
                        "allowed_users": ["olive", "prof"],
                        "github_url": github.url,
                        "github_api": github.api,
                    },
                }
            },
            "autoscaler": {"enabled": False},
            "courses": [
                {
                    "name": "phys-101",
                    "roster": ["uni:phys-students"],
                    "staff": ["uni:phys-tas"],
                    "start": (today - timedelta(days=7)).isoformat(),
                    "end": (today + timedelta(days=30)).isoformat(),
                }
            ],
        },
        "test",
    )
    with running_hub(
        config,
        tmp_path_factory.mktemp("github-courses-hub"),
        # Sign-in with course groups, and the roles (each course's staff role).
        under_test="hubconfig._auth(c, load())\nhubconfig._services(c, load())",
        service_token=SERVICE_TOKEN,
        service_scopes=["admin:users", "list:users", "read:groups", "read:roles"],
        secrets={"swarmhub-cli-token": CLI_TOKEN},
    ) as running:
        yield running


def _api(public: str, path: str) -> requests.Response:
    return requests.get(
        f"{public}/hub/api{path}", headers={"Authorization": f"token {SERVICE_TOKEN}"}, timeout=10
    )


def _signed_in(public: str, github: FakeGitHub, login: str, log: Path) -> requests.Session:
    session, r = _sign_in(public, github, login)
    assert r.status_code == 302, f"{login}: {r.status_code}\n{log.read_text()[-3000:]}"
    return session


def _groups(public: str, name: str) -> list[str]:
    r = _api(public, f"/users/{name}")
    assert r.status_code == 200, r.text
    return sorted(r.json()["groups"])


def _listed(session: requests.Session, public: str) -> set[str]:
    """The user names a signed-in user's browser may list, as the admin page does."""
    r = session.get(f"{public}/hub/api/users", timeout=10)
    assert r.status_code == 200, r.text
    return {u["name"] for u in r.json()}


def _may_list(session: requests.Session, public: str) -> bool:
    r = session.get(f"{public}/hub/api/users", timeout=10)
    assert r.status_code in (200, 403), r.text
    return r.status_code == 200


def test_a_student_in_the_roster_team_is_in_the_course_group(hub, github: FakeGitHub):
    public, log = hub
    _signed_in(public, github, "ana", log)
    _signed_in(public, github, "ben", log)
    assert _groups(public, "ana") == [ROSTER]
    assert _groups(public, "ben") == [ROSTER]
    # The teams were asked of GitHub at the sign-in, not taken from the config.
    assert ("GET", "/api/user/teams") in github.requests


def test_a_ta_is_staff_and_sees_only_the_course(hub, github: FakeGitHub):
    public, log = hub
    _signed_in(public, github, "olive", log)
    asked = len(github.requests)
    tom = _signed_in(public, github, "tom", log)
    # phys-tas is on tom's second page of teams: the hub followed the Link.
    assert github.requests[asked:].count(("GET", "/api/user/teams")) == 2
    assert _groups(public, "tom") == [STAFF]
    staff = _api(public, f"/groups/{STAFF}").json()
    assert staff["users"] == ["tom"]
    assert STAFF in staff["roles"]  # the course's role, held by its staff group
    # What the role gives: the course's students, nobody else, no admin.
    assert {"ana", "ben"} <= _listed(tom, public)
    assert not {"olive", "prof"} & _listed(tom, public)
    assert tom.get(f"{public}/hub/api/users/ana", timeout=10).status_code == 200
    assert tom.get(f"{public}/hub/api/users/olive", timeout=10).status_code == 404
    assert _api(public, "/users/tom").json()["admin"] is False


def test_a_user_in_no_course_team_is_in_no_course_group(hub, github: FakeGitHub):
    public, log = hub
    olive = _signed_in(public, github, "olive", log)
    assert _groups(public, "olive") == []
    # Nor does a student see the other students.
    ana = _signed_in(public, github, "ana", log)
    assert not _may_list(ana, public)
    assert not _may_list(olive, public)


def test_a_team_change_changes_the_groups_at_the_next_sign_in(hub, github: FakeGitHub):
    public, log = hub
    # ana becomes a TA, tom goes back to being a student.
    github.team_members["uni:phys-students"] = {"ben", "tom"}
    github.team_members["uni:phys-tas"] = {"ana"}
    # Nothing changes until they sign in again: teams are read at sign-in.
    assert _groups(public, "ana") == [ROSTER]
    assert _groups(public, "tom") == [STAFF]

    ana = _signed_in(public, github, "ana", log)
    tom = _signed_in(public, github, "tom", log)
    assert _groups(public, "ana") == [STAFF]
    assert _groups(public, "tom") == [ROSTER]
    assert _api(public, f"/groups/{STAFF}").json()["users"] == ["ana"]
    # The role follows the group: ana now lists the roster, tom nobody.
    assert {"ben", "tom"} <= _listed(ana, public)
    assert not _may_list(tom, public)


def test_a_student_taken_off_every_team_is_refused(hub, github: FakeGitHub):
    public, _ = hub
    # ben was admitted by the course alone (allowed_users does not name him).
    github.team_members["uni:phys-students"].discard("ben")
    _, r = _sign_in(public, github, "ben")
    assert r.status_code == 403
    # And he is no longer the course's: its staff lose their powers over him.
    assert _groups(public, "ben") == []
