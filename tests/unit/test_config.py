# ruff: noqa: E501 - each expectation is one whole line, as the operator sees it
"""The config model: defaults, and one exact line for every kind of mistake.

Each tests/fixtures/config.error.<outcome>.yaml is one mistake an operator makes
(several-mistakes: three); the expectation is the whole line after the file
name. Through the CLI the mistake must stop `deploy`, `bake` and `destroy`
before anything is touched: no Docker, no subprocess, no socket, no file
written outside a temporary directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmhub import cli
from swarmhub.config import ConfigError, load_config, parse_config
from swarmhub.config.secrets_scan import WHERE_SECRETS_GO
from swarmhub.errors import SwarmhubError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REPO = FIXTURES.parent.parent
SECRETS_GO = "; " + WHERE_SECRETS_GO

# fixture -> the line(s) after the file name, exactly
ERRORS = {
    "auth-kind-typo": ":3:11: hub.auth.kind: `githb` is not one of 'accounts', 'shared-password' or 'github'; did you mean `github`?",
    "auth-native": ":3:11: hub.auth.kind: `native` is not provided by swarmhub (JupyterHub would fall back to PAM and nobody could sign in); use `accounts`: a password per student from `python pipeline.py users add`",
    "aws-key-in-tags": ":5:7: aws.fleet.tags.owner: looks like an AWS access key id" + SECRETS_GO,
    "aws-without-region": ":2:3: aws.region: is missing; add `region: eu-central-1`",
    "bad-admin-name": ":3:19: hub.auth.admin_users[0]: `Prof Smith` is not a user name (lower-case letters, digits and _.- , starting with a letter or digit, at most 64)",
    "bad-size": ":2:14: servers.mem_limit: `lots` is not a size; write sizes with a unit, e.g. 2G or 512M",
    "bad-time": ":4:14: autoscaler.schedule[0].start: `25:00` is not a time of day; write HH:MM, quoted, e.g. '14:00'",
    "bad-timezone": ":6:17: autoscaler.schedule[0].timezone: `Mars/Olympus` is not a known time zone; write e.g. Europe/Berlin",
    "bad-weekday": ":3:19: autoscaler.schedule[0].days[1]: `thr` is not a weekday; write mon, tue, ... sun",
    "bad-yaml": ":3:7: invalid YAML: mapping values are not allowed here; check the indentation, or quote a value with ': '",
    "duplicate-key": ":5:1: servers: written twice (first at line 1); YAML would keep only this one: merge the two into one",
    "fleet-min-over-max": ":4:18: aws.fleet.min_workers: `5` must not exceed max_workers",
    "github-admits-anyone": ":6:7: hub.auth.github: admits nobody in particular, so any GitHub account could sign in; set allowed_organizations, allowed_teams or allowed_users",
    "github-client-secret-in-file": ":7:7: hub.auth.github.client_secret: is named like a secret and has a value"
    + SECRETS_GO,
    "github-default-admin": ":3:5: hub.auth.admin_users: is not set; with GitHub sign-in, name the hub's admins by their GitHub logins, e.g. admin_users: [your-login]",
    "github-placeholder-client-id": ":6:18: hub.auth.github.client_id: `CHANGE-ME` is the placeholder `init` wrote; set your GitHub OAuth app's client id",
    "github-section-without-kind": ":4:7: hub.auth.github: is set but kind is `accounts`; set kind: github",
    "github-token-in-description": ":5:7: servers.profiles[0].description: looks like a GitHub token"
    + SECRETS_GO,
    "github-without-section": ":3:11: hub.auth.kind: `github` needs a `github:` section with client_id and who may sign in",
    "heartbeat-after-visibility": ":2:23: lifecycle.heartbeat_interval: `300` must be shorter than visibility_timeout, or a message being worked on would reappear on the queue",
    "homes-climbs": ":2:14: local.homes_dir: `/var/lib/swarmhub/../../..` climbs with `..` (it is /); write the directory itself, e.g. /var/lib/swarmhub/homes",
    "homes-in-hub-state": ":3:14: local.homes_dir: `/var/lib/swarmhub/hub/homes` is inside /var/lib/swarmhub/hub, where the local target keeps its own files; use e.g. /var/lib/swarmhub/homes",
    "homes-is-home": ":2:14: local.homes_dir: `/home` is a directory shared with the rest of the machine; give swarmhub a directory of its own, e.g. /var/lib/swarmhub/homes",
    "homes-is-root": ":2:14: local.homes_dir: `/` is the root of the filesystem; give swarmhub a directory of its own, e.g. /var/lib/swarmhub/homes",
    "homes-same-as-state": ":3:14: local.homes_dir: `/srv/swarmhub` is the same directory as state_dir; students' homes would sit beside the hub's database and secrets: use e.g. /srv/swarmhub/homes",
    "https-off-unquoted": ':2:10: hub.https: `off` was read as false (YAML 1.1 reads yes/no/on/off as true/false); quote it: "off"',
    "key-in-wrong-section": ":2:3: hub.max_nodes: unknown key; `max_nodes` belongs under `autoscaler`",
    "list-not-a-list": ":3:18: hub.auth.admin_users: `prof` should be a list, e.g. [a, b]",
    "max-nodes-over-max-workers": ":2:14: autoscaler.max_nodes: `20` is above aws.fleet.max_workers (10); the worker group cannot grow that far: raise max_workers or lower max_nodes",
    "min-over-max": ":2:14: autoscaler.min_nodes: `5` is above max_nodes (2); min_nodes must not exceed max_nodes",
    "missing-required": ":4:13: hub.auth.github.client_id: is missing; add `client_id: Iv1.0123456789abcdef`",
    "name-prefix-raw-pattern": ":3:16: aws.name_prefix: `Swarm_Hub` is not in the form this field takes; use lower-case letters, digits and '-', starting with a letter, at most 24, e.g. swarmhub",
    "negative-cpu": ":2:14: servers.cpu_limit: `-1` must be greater than 0",
    "negative-size": ":2:14: servers.mem_limit: `-2G` is not a size; write sizes with a unit, e.g. 2G or 512M",
    "not-a-mapping": ":1:1: the top level must be a mapping of sections",
    "not-utf8": ":3:6: is not UTF-8 (byte 0xe9); save the file as UTF-8",
    "number-as-name": ":1:7: name: `2025` was read as a number; quote it: '2025'",
    "overnight-but-same-day": ":6:18: autoscaler.schedule[0].overnight: `true` but end `17:00` is after start `14:00` on the same day; remove `overnight` or swap the times",
    "port-range": ":2:9: hub.port: `70000` must be at most 65535",
    "profile-bad-image": ":5:14: servers.profiles[0].image: `My Image:latest` is not an image reference; write [registry/]name:tag, e.g. swarmhub/notebook:2025.1 (lower case, no spaces)",
    "profile-bad-name": ":3:13: servers.profiles[0].name: `Large_One` is not a profile name; use lower-case letters, digits and '-', at most 32, e.g. large",
    "profile-cpu-over-limit": ":5:24: servers.profiles[0].cpu_reservation: `2` is above the profile's cpu_limit (1); a reservation must not exceed the limit",
    "profile-duplicate-name": ":5:13: servers.profiles[1].name: `large` is used twice; profile names are unique",
    "profile-image-without-tag": ":5:14: servers.profiles[0].image: `registry.example.org/course/gpu` names no tag; name the image by tag or digest, e.g. registry.example.org/course/gpu:2025.1 (a node holds the exact image, never whatever `latest` was)",
    "profile-reservation-over-limit": ":5:24: servers.profiles[0].mem_reservation: `8G` is above the profile's mem_limit (4G); a reservation must not exceed the limit",
    "public-subnet": ":2:16: local.node_subnet: `8.8.8.0/24` is not a private range; use e.g. 10.213.0.0/24",
    "quota-soft-over-hard": ":2:9: quota.soft: `6G` is above hard (5G); the warning must come before the refusal",
    "quota-without-unit": ":2:9: quota.hard: `5000000000` has no unit; write sizes with a unit, e.g. 4.7G (a bare number would be bytes)",
    "quoted-size-without-unit": ":2:20: servers.mem_reservation: `512` has no unit; write sizes with a unit, e.g. 512M (a bare number would be bytes)",
    "region-typo": ":2:11: aws.region: `us-est-1` is not an AWS region; did you mean `us-west-1`?",
    "region-unknown": ":2:11: aws.region: `eu-central-3` is not an AWS region; did you mean `eu-central-2`?",
    "relative-path": ":2:14: local.homes_dir: `relative/homes` is not an absolute path; write e.g. /var/lib/swarmhub/homes",
    "reservation-over-limit": ":2:20: servers.mem_reservation: `4G` is above mem_limit (2G); a reservation must not exceed the limit",
    "secret-in-tags": ":6:7: aws.fleet.tags.db_password: is named like a secret and has a value"
    + SECRETS_GO,
    "section-not-a-mapping": ":1:6: hub: `8000` should be a mapping: `key: value` lines indented below it",
    "several-mistakes": [
        ":2:3: hub.prot: unknown key; did you mean `port`?",
        ":4:14: servers.mem_limit: `4096` has no unit; write sizes with a unit, e.g. 4096M (a bare number would be bytes)",
        ":6:14: autoscaler.min_nodes: `5` is above max_nodes (2); min_nodes must not exceed max_nodes",
    ],
    "size-without-unit": ":2:14: servers.mem_limit: `4096` has no unit; write sizes with a unit, e.g. 4096M (a bare number would be bytes)",
    "state-in-etc": ":2:14: local.state_dir: `/etc/swarmhub` is inside the system directory /etc; give swarmhub a directory of its own, e.g. /var/lib/swarmhub",
    "state-inside-homes": ":2:14: local.state_dir: `/srv/homes/swarmhub-state` is inside homes_dir (/srv/homes); a student named after it would get the hub's state as a home: put them side by side, e.g. /var/lib/swarmhub and /var/lib/swarmhub/homes",
    "state-is-var-lib": ":2:14: local.state_dir: `/var/lib` is a directory shared with the rest of the machine; give swarmhub a directory of its own, e.g. /var/lib/swarmhub",
    "tab-indent": ":2:1: invalid YAML: found character '\\t' that cannot start any token; indent with spaces, not tabs",
    "timeout-shorter-than-boot": ":3:18: servers.start_timeout: `120` must be at least autoscaler.node_boot_seconds + 60 (180 s), or a student whose server waits for a new node times out before it boots",
    "timezone-typo": ":6:17: autoscaler.schedule[0].timezone: `Europe/Berln` is not a known time zone; did you mean `Europe/Berlin`?",
    "two-documents": ":3:1: invalid YAML: a second document starts here; keep one document in the file: remove the '---'",
    "unknown-key": ":2:3: hub.prot: unknown key; did you mean `port`?",
    "unknown-section": ":1:1: autoscalar: unknown key; did you mean `autoscaler`?",
    "unquoted-time": ":4:14: autoscaler.schedule[0].start: `14:00` was read as the number 840 (YAML 1.1 reads unquoted 14:00 as base-60 minutes); quote times: '14:00'",
    "unquoted-short-time": ":5:12: autoscaler.schedule[0].end: `9:30` was read as the number 570 (YAML 1.1 reads unquoted 14:00 as base-60 minutes); quote times: '09:30'",
    "unterminated-quote": ":2:10: invalid YAML: the quoted value that starts here is never closed (the file ends at line 5); close the quote",
    "window-end-before-start": ":5:12: autoscaler.schedule[0].end: `14:00` is before start `17:00`; a window past midnight needs `end` after `start` or `overnight: true`",
    "window-over-max": ":7:18: autoscaler.schedule[0].min_nodes: `6` is above max_nodes (4); raise max_nodes or ask for fewer",
    "window-zero-length": ":5:12: autoscaler.schedule[0].end: `14:00` is the same as `start`; a window needs a length",
    "wrong-type": ":2:9: hub.port: `eighty` is not a whole number",
    "yes-as-key": ":4:5: hub.auth.on: the key `on` was read as `true` (YAML 1.1 reads yes/no/on/off as true/false); quote it: 'on'",
    # issue 23: mistakes that passed
    "overlay-overlaps-nodes": ":2:19: swarm.overlay_subnet: `10.213.0.0/20` overlaps local.node_subnet (10.213.0.0/24); servers' addresses would collide with the nodes': use e.g. 10.214.0.0/20",
    "overlay-overlaps-vpc": ":2:19: swarm.overlay_subnet: `10.40.0.0/20` overlaps aws.fleet.vpc_cidr (10.40.0.0/16); servers' addresses would collide with the nodes': use e.g. 10.214.0.0/20",
    "workers-over-max-nodes": ":4:12: local.workers: `4` is above autoscaler.max_nodes (2); the autoscaler would stop the extra ones: start at most max_nodes or raise it",
    "warm-pool-over-max-workers": ":5:21: aws.fleet.warm_pool_size: `20` is above max_workers (12); a warm pool beyond what the group may run is never used: lower it",
    "port-is-swarm": ":2:9: hub.port: `2377` is Docker Swarm's cluster management port; the proxy cannot listen there too: use another, e.g. 8000",
    "port-is-pool-agent": ":2:9: hub.port: `2380` is the local pool agent's port; the proxy cannot listen there too: use another, e.g. 8000",
    "port-is-hub-api": ":2:9: hub.port: `8081` is the hub's own API port; the proxy cannot listen there too: use another, e.g. 8000",
    "profile-larger-than-node": ":6:24: servers.profiles[0].mem_reservation: `32G` is more than a worker (m6i.xlarge) has (16G), so no node could ever start it; lower it or pick a larger aws.fleet.worker_instance_type",
    "admin-on-roster": ":6:19: courses[0].roster[1]: `prof` is a hub admin; on a roster the course's staff could manage the admin's server: take them off, and give them a separate account for the course",
    "mem-limit-tiny": ":2:14: servers.mem_limit: `4M` is too small for a notebook server (at least 128M); did you mean 4G?",
    "autoscaler-off-no-workers": ":4:12: local.workers: `0` with autoscaler.enabled false leaves no node to run a server; start at least 1 worker or turn the autoscaler on",
    "autoscaler-off-no-aws-workers": ":6:18: aws.fleet.min_workers: `0` with autoscaler.enabled false leaves no node to run a server; start at least 1 worker or turn the autoscaler on",
    "letsencrypt-without-domain": ":11:24: aws.fleet.letsencrypt_email: `ops@example.org` needs domain: the certificate is for the hub's DNS name; set aws.fleet.domain, or remove letsencrypt_email",
    "github-user-is-email": ":7:23: hub.auth.github.allowed_users[0]: `ada@example.org` is an e-mail address; GitHub sign-in matches logins: write the GitHub login, e.g. ada",
}


def test_every_error_fixture_has_an_expectation():
    shipped = {
        p.name.removeprefix("config.error.").removesuffix(".yaml")
        for p in FIXTURES.glob("config.error.*.yaml")
    }
    assert shipped == set(ERRORS)
    assert len(shipped) >= 40


def expected_lines(name: str) -> list[str]:
    path = FIXTURES / f"config.error.{name}.yaml"
    want = ERRORS[name]
    return [f"{path}{line}" for line in (want if isinstance(want, list) else [want])]


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_config_is_exact_lines(name):
    with pytest.raises(ConfigError) as err:
        load_config(FIXTURES / f"config.error.{name}.yaml")
    assert str(err.value).splitlines() == expected_lines(name)


class Untouched:
    """Records anything a refused command does to the machine (a sys.audit hook)."""

    active = False
    seen: list[str] = []
    TMP = tempfile.gettempdir()
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int) or str(path).endswith(".pyc"):
                return
            writing = (mode and any(c in mode for c in "wax+")) or (
                flags and flags & cls.WRITE_FLAGS
            )
            if writing and not os.path.abspath(path).startswith(cls.TMP):
                cls.seen.append(f"write {path}")
        elif event in (
            "os.mkdir",
            "os.remove",
            "os.rename",
            "os.rmdir",
            "shutil.rmtree",
            "os.chmod",
            "os.symlink",
            "os.truncate",
        ):
            path = str(args[0])
            if "__pycache__" not in path and not os.path.abspath(path).startswith(cls.TMP):
                cls.seen.append(f"{event} {path}")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork"):
            cls.seen.append(f"{event} {args[:2]}")
        elif event == "socket.connect":
            cls.seen.append(f"connect {args[1]}")


sys.addaudithook(Untouched.hook)


@pytest.fixture
def untouched(monkeypatch):
    from swarmhub.local import engine

    def no_engine(*args, **kwargs):
        raise AssertionError("a bad config reached the Docker engine")

    monkeypatch.setattr(engine, "ensure_engine", no_engine)
    monkeypatch.setattr(engine, "client", no_engine)
    Untouched.seen = []
    Untouched.active = True
    yield Untouched.seen
    Untouched.active = False


@pytest.mark.parametrize("command", ["deploy", "bake", "destroy"])
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_config_stops_the_command_and_touches_nothing(name, command, untouched):
    path = FIXTURES / f"config.error.{name}.yaml"
    args = [command, "--config", str(path)] + (["--purge", "--yes"] if command == "destroy" else [])
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [f"error: {line}" for line in expected_lines(name)]
    assert untouched == []


def test_cli_exit_code_and_stderr_in_a_real_process():
    path = FIXTURES / "config.error.unknown-key.yaml"
    proc = subprocess.run(
        [sys.executable, str(REPO / "pipeline.py"), "deploy", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"error: {path}:2:3: hub.prot: unknown key; did you mean `port`?"


def test_defaults_and_example_config():
    cfg = load_config(REPO / "swarmhub.example.yaml")
    assert cfg.default_target() == "local"
    assert cfg.servers.mem_limit == 2 * 1024**3
    assert cfg.servers.mem_reservation == 1024**3
    assert cfg.hub.auth.kind == "accounts"
    happy = load_config(FIXTURES / "config.happy.yaml")
    assert happy == parse_config({}, "defaults")


def test_aws_section_makes_aws_the_default_target():
    cfg = parse_config({"aws": {"region": "eu-central-1"}}, "x.yaml")
    assert cfg.default_target() == "aws"


def test_missing_config_file_named_explicitly_is_an_error(tmp_path):
    result = CliRunner().invoke(cli.main, ["status", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {tmp_path / 'nope.yaml'}: no such config file; "
        "copy swarmhub.example.yaml or run `pipeline.py init`"
    )


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys; sys.argv=['pipeline.py','--help']\n"
        "from swarmhub import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('docker', 'boto3', 'pydantic', 'jinja2', 'requests', 'yaml')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512M", 512 * 1024**2), ("2G", 2 * 1024**3), ("1.5Gi", int(1.5 * 1024**3)), ("300B", 300)],
)
def test_sizes_in_a_file_take_a_unit(text, expected):
    cfg = parse_config({"servers": {"mem_limit": text, "mem_reservation": "1B"}}, "x")
    assert cfg.servers.mem_limit == expected


def test_bare_numbers_are_bytes_only_where_the_program_wrote_them():
    # settings.json carries sizes as bytes: the hub reads back what deploy rendered.
    cfg = parse_config({"servers": {"mem_limit": 4096, "mem_reservation": 1024}}, "settings.json")
    assert cfg.servers.mem_limit == 4096
    again = parse_config(cfg.model_dump(mode="json"), "settings.json")
    assert again == cfg


def test_a_program_s_mistake_is_one_line_without_a_file_position():
    with pytest.raises(SwarmhubError) as err:
        parse_config({"hub": {"port": "x"}, "autoscaler": {"min_nodes": 3, "max_nodes": 2}}, "t")
    assert str(err.value).splitlines() == [
        "t: autoscaler.min_nodes: `3` is above max_nodes (2); min_nodes must not exceed max_nodes",
        "t: hub.port: `x` is not a whole number",
    ]


def test_a_rendered_json_config_keeps_its_bytes(tmp_path):
    import json

    cfg = parse_config({"servers": {"mem_limit": "4G"}}, "t")
    rendered = tmp_path / "hub-config.json"
    rendered.write_text(json.dumps(cfg.model_dump(mode="json")))
    assert load_config(rendered) == cfg
