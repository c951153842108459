"""The front door: an operator's mistake on the command line is one `error:` line and a
non-zero exit, never a traceback (issue 23, item 4).

Each case is run through click's CliRunner in this process; `catch_exceptions`
would hide a traceback as an exit code, so each test asserts the exception is a
SystemExit and the output is exactly the line an operator should see.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmhub import cli
from tests.helpers import without_aws_credentials


def run(args, **kwargs):
    result = CliRunner().invoke(cli.main, args, **kwargs)
    # A traceback is an exception other than the exit click and our handler raise.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args}: traceback {result.exception!r}"
    )
    return result


def lines(result) -> list[str]:
    return result.output.splitlines()


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_into_a_missing_directory_is_one_line(tmp_cwd):
    result = run(["init", "--config", "nodir/new.yaml", "--yes"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: nodir/new.yaml: the directory nodir does not exist; create it first "
        "or give --config a path in an existing directory"
    ]
    assert not (tmp_cwd / "nodir").exists()


def test_init_with_a_mention_style_admin_names_the_flag(tmp_cwd):
    result = run(["init", "--admin", "@alice", "--yes"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --admin @alice: not a user name (lower-case letters, digits and _.- , "
        "starting with a letter or digit, at most 64); write the login without '@', e.g. alice"
    ]
    assert not (tmp_cwd / "swarmhub.yaml").exists()


def test_init_writes_an_admin_given_twice_once(tmp_cwd):
    result = run(["init", "--admin", "alice", "--admin", "Alice", "--admin", "bob", "--yes"])
    assert result.exit_code == 0, result.output
    text = (tmp_cwd / "swarmhub.yaml").read_text()
    assert "admin_users: [alice, bob]" in text


def test_init_refuses_region_for_the_local_target(tmp_cwd):
    result = run(["init", "--region", "eu-west-1", "--yes"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --region eu-west-1: the local target has no region; "
        "add --target aws, or leave --region out"
    ]
    assert not (tmp_cwd / "swarmhub.yaml").exists()


def test_init_with_a_github_org_that_breaks_yaml_is_one_line(tmp_cwd):
    result = run(["init", "--sign-in", "github", "--admin", "a", "--github-org", "[x", "--yes"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --github-org [x: not an organisation name (letters, digits, '.', '_' "
        "and '-', as in its GitHub URL)"
    ]


def test_render_to_an_unwritable_place_is_one_line(tmp_cwd):
    blocker = tmp_cwd / "file"
    blocker.write_text("")
    result = run(["render", "--out", "file/out"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --out file/out: cannot write there (file is not a directory); "
        "give a directory you can write"
    ]


def test_report_since_too_far_back_is_one_line(tmp_cwd):
    result = run(["report", "--since", "9999999d", "--events", "none.jsonl"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --since 9999999d: reaches back before the year 1; give a shorter span, e.g. 30d"
    ]


def _events(tmp_path: Path, *lines_: str) -> str:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line + "\n" for line in lines_))
    return str(path)


GOOD = '{"time": "2026-12-01T10:00:00Z", "event": "server_started", "user": "a"}'


def test_report_plot_into_a_missing_directory_is_one_line(tmp_cwd):
    events = _events(tmp_cwd, GOOD)
    result = run(["report", "--events", events, "--since", "3000d", "--plot", "nodir/week.html"])
    assert result.exit_code == 1
    assert lines(result)[-1] == (
        "error: --plot nodir/week.html: the directory nodir does not exist; create it first"
    )
    assert not (tmp_cwd / "nodir").exists()


@pytest.mark.parametrize(
    "field, shown",
    [
        ('"spawn_wait_seconds": 1e308', "1e+308"),
        ('"spawn_wait_seconds": Infinity', "inf"),
        ('"cpu_reservation": NaN', "nan"),
        ('"mem_reservation": 1' + "0" * 30, "1" + "0" * 30),
    ],
)
def test_report_over_an_events_file_with_a_malformed_field_is_one_line(tmp_cwd, field, shown):
    line = '{"time": "2026-12-01T10:00:00Z", "event": "server_started", "user": "a", ' + field + "}"
    events = _events(tmp_cwd, GOOD, line)
    result = run(["report", "--events", events, "--since", "3000d"])
    assert result.exit_code == 1
    name = field.split(":")[0].strip('"')
    assert lines(result) == [
        f"error: {events}:2: {name} `{shown}` is not a plausible number; fix or delete that line"
    ]


def test_report_over_an_event_in_the_year_1_is_one_line(tmp_cwd):
    line = (
        '{"time": "0001-01-01T00:00:00+00:00", "event": "server_started", "user": "a", '
        '"spawn_wait_seconds": 100}'
    )
    events = _events(tmp_cwd, line)
    result = run(["report", "--events", events, "--since", "3000d"])
    assert result.exit_code == 1
    assert lines(result) == [
        f"error: {events}:1: time 0001-01-01T00:00:00+00:00 with its spawn wait is before "
        "the year 1; fix or delete that line"
    ]


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    without_aws_credentials(monkeypatch, tmp_path)


def test_archive_to_s3_without_credentials_is_one_line(tmp_cwd, no_aws_credentials):
    homes = tmp_cwd / "homes"
    (homes / "ada").mkdir(parents=True)
    result = run(
        ["archive", "--course", "intro", "--users", "ada", "--homes", str(homes)]
        + ["--to", "s3://a-bucket/p"]
    )
    assert result.exit_code == 1
    assert lines(result)[-1] == (
        "error: s3://a-bucket/p: no AWS credentials; set AWS_PROFILE or run `aws configure`"
    )


def test_restore_from_s3_without_credentials_is_one_line(tmp_cwd, no_aws_credentials):
    result = run(["restore", "ada", "--homes", str(tmp_cwd), "--from", "s3://a-bucket/p"])
    assert result.exit_code == 1
    assert lines(result)[-1] == (
        "error: s3://a-bucket/p: no AWS credentials; set AWS_PROFILE or run `aws configure`"
    )


def test_a_self_referencing_anchor_is_one_line(tmp_cwd):
    (tmp_cwd / "rec.yaml").write_text("hub: &x\n  auth: *x\n")
    result = run(["validate", "--config", "rec.yaml"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: rec.yaml:2:3: invalid YAML: the alias *x refers to the anchor it is inside; "
        "write the value out"
    ]


def test_an_alias_bomb_is_refused_quickly(tmp_cwd):
    import time

    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        rows.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (tmp_cwd / "bomb.yaml").write_text("\n".join(rows) + "\n")
    began = time.monotonic()
    result = run(["validate", "--config", "bomb.yaml"])
    # Unbounded, it ran past 1.7 GB and minutes; bounded, about a second (a loaded CI: more).
    assert time.monotonic() - began < 30
    assert result.exit_code == 1
    assert lines(result) == [
        "error: bomb.yaml:5:1: invalid YAML: aliases make this file more than 100000 "
        "values; write the values out instead of repeating anchors"
    ]


def test_a_server_larger_than_this_machine_is_refused_by_validate(tmp_cwd):
    (tmp_cwd / "big.yaml").write_text("servers:\n  mem_limit: 5000T\n  mem_reservation: 4000T\n")
    result = run(["validate", "--config", "big.yaml"])
    assert result.exit_code == 1
    assert len(lines(result)) == 1
    assert lines(result)[0].startswith(
        "error: big.yaml:3:20: servers.mem_reservation: `4000T` is more than this machine has ("
    )
    assert lines(result)[0].endswith(
        "), so no node could ever start it; lower it or run on a larger one"
    )


def test_a_roster_file_with_a_byte_order_mark_is_accepted(tmp_cwd):
    # Excel's "CSV UTF-8" starts the file with U+FEFF; `users add --from` accepts it too.
    (tmp_cwd / "roster.txt").write_text("\ufeffada\nbob\n", encoding="utf-8")
    (tmp_cwd / "c.yaml").write_text(
        "courses:\n  - name: intro\n    roster_file: roster.txt\n"
        "    start: 2026-01-01\n    end: 2099-01-01\n"
    )
    from swarmhub.config import load_config

    assert load_config(tmp_cwd / "c.yaml").courses[0].roster == ["ada", "bob"]


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_a_course_that_has_ended_is_one_warning_and_valid(monkeypatch):
    from datetime import UTC, datetime

    from swarmhub import validate

    monkeypatch.setattr(validate, "utcnow", lambda: datetime(2026, 12, 8, tzinfo=UTC))
    path = FIXTURES / "config.warn.course-ended.yaml"
    result = run(["validate", "--config", str(path), "--target", "local"])
    assert result.exit_code == 0, result.output
    warned = [line for line in lines(result) if line.startswith("warning:")]
    assert warned == [
        f"warning: {path}:5:10: courses[0].end: `2026-02-01` has passed; its groups, staff "
        "role, profiles and windows no longer apply: remove the course or update its dates"
    ]
    assert lines(result)[-1].endswith("valid for the local target (offline checks)")


def test_headroom_beyond_what_max_nodes_hold_is_one_warning():
    from swarmhub import validate
    from swarmhub.config import load_config

    path = FIXTURES / "config.warn.headroom-beyond-max-nodes.yaml"
    cfg = load_config(path)
    assert validate.warnings(cfg) == [
        f"{path}:3:19: autoscaler.headroom_slots: `40` is more than max_nodes (2) nodes of "
        "m6i.xlarge hold (32 servers); every node would run all the time and the headroom "
        "is never there: lower it or raise max_nodes"
    ]


def test_validate_without_a_config_file_does_not_say_valid(tmp_cwd):
    result = run(["validate"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: swarmhub.yaml: no such config file; copy swarmhub.example.yaml or run "
        "`python pipeline.py init` (without one, deploy takes every default for the local target)"
    ]


def test_archive_with_a_missing_homes_directory_fails(tmp_cwd):
    result = run(["archive", "--course", "intro", "--users", "ada", "--homes", "nohomes"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --homes nohomes: no such directory; give the directory the homes are in"
    ]


def test_archive_with_an_upper_case_user_fails(tmp_cwd):
    (tmp_cwd / "homes" / "ada").mkdir(parents=True)
    result = run(["archive", "--course", "intro", "--users", "Ada", "--homes", "homes"])
    assert result.exit_code == 1
    assert lines(result) == [
        "error: --users Ada: not a user name (lower-case letters, digits and _.- , starting "
        "with a letter or digit, at most 64); user names are lower case: ada"
    ]


def test_archive_help_is_not_stale():
    result = run(["archive", "--help"])
    assert "until courses: lands" not in result.output
    assert "--users TEXT" in result.output


def test_deploy_plan_without_root_says_what_it_cannot_know(tmp_cwd, monkeypatch):
    import swarmhub.cli as cli_module

    class Planner:
        def plan(self):
            print("create service swarmhub-hub (img)")

    monkeypatch.setattr(cli_module.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(cli_module, "_target", lambda cfg, name: Planner())
    result = run(["deploy", "--plan"])
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "plan (not root): what runs now cannot be read, so these are the steps of a deploy "
        "on a machine where nothing runs yet; `sudo python pipeline.py deploy --plan` "
        "compares with what runs",
        "create service swarmhub-hub (img)",
    ]


def test_https_self_signed_is_refused_where_the_aws_target_ignores_it(tmp_cwd):
    (tmp_cwd / "a.yaml").write_text("hub:\n  https: self-signed\naws:\n  region: eu-central-1\n")
    result = run(["validate", "--config", "a.yaml"])
    assert result.exit_code == 1
    assert (
        "error: a.yaml:2:10: hub.https: `self-signed` is ignored on AWS: the hub serves "
        "HTTPS with a Let's Encrypt certificate when aws.fleet.domain is set; remove it"
    ) in lines(result)


def test_a_course_file_that_is_not_utf8_is_one_line(tmp_cwd):
    (tmp_cwd / "bin.yaml").write_bytes(b"\xff\xfe")
    result = run(["simulate", "--course", "bin.yaml"])
    assert result.exit_code == 1
    assert lines(result) == ["error: bin.yaml: is not UTF-8; save it as UTF-8"]


def test_a_course_file_that_is_not_yaml_is_one_line(tmp_cwd):
    (tmp_cwd / "bad.yaml").write_text("a: [\n")
    result = run(["simulate", "--course", "bad.yaml"])
    assert result.exit_code == 1
    assert len(lines(result)) == 1
    assert lines(result)[0].startswith("error: bad.yaml: invalid YAML: ")


def test_an_archive_roster_that_is_not_utf8_is_one_line(tmp_cwd):
    (tmp_cwd / "homes" / "ada").mkdir(parents=True)
    (tmp_cwd / "bin.csv").write_bytes(b"\xff\xfe")
    result = run(["archive", "--course", "c", "--roster", "bin.csv", "--homes", "homes"])
    assert result.exit_code == 1
    assert lines(result) == ["error: bin.csv: is not UTF-8; save it as UTF-8"]
