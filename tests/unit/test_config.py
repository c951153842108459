"""The config model: defaults, and one clear line for every kind of mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmhub import cli
from swarmhub.config import load_config, parse_config
from swarmhub.errors import SwarmhubError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REPO = FIXTURES.parent.parent

# fixture -> what the single error line must say (besides the file name)
ERRORS = {
    "unknown-key": "hub.prot: unknown key",
    "bad-size": "servers.mem_limit: 'lots' is not a size",
    "negative-size": "servers.mem_limit: '-2G' is not a size",
    "negative-cpu": "servers.cpu_limit: Input should be greater than 0",
    "wrong-type": "hub.port: Input should be a valid integer",
    "port-range": "hub.port: Input should be less than or equal to 65535",
    "github-without-section": "hub.auth: kind 'github' needs a 'github' section",
    "missing-required": "hub.auth.github.client_id: required field is missing",
    "bad-yaml": "invalid YAML",
    "not-a-mapping": "the top level must be a mapping of sections",
    "reservation-over-limit": "servers: mem_reservation must not exceed mem_limit",
    "min-over-max": "autoscaler: min_nodes must not exceed max_nodes",
    "bad-time": "autoscaler.schedule[0].start: '25:00' is not a time of day",
    "bad-timezone": "autoscaler.schedule[0].timezone: 'Mars/Olympus' is not a known time zone",
    "relative-path": "local.homes_dir: 'relative/homes' must be an absolute path",
    "public-subnet": "local.node_subnet: '8.8.8.0/24' must be a private range",
    "aws-without-region": "aws.region: required field is missing",
    "timeout-shorter-than-boot": "servers.start_timeout (120 s) must be at least "
    "autoscaler.node_boot_seconds + 60 (180 s)",
}


def test_every_error_fixture_has_an_expectation():
    shipped = {
        p.name.removeprefix("config.error.").removesuffix(".yaml")
        for p in FIXTURES.glob("config.error.*.yaml")
    }
    assert shipped == set(ERRORS)
    assert len(shipped) >= 10


def test_defaults_and_example_config():
    cfg = load_config(REPO / "swarmhub.example.yaml")
    assert cfg.default_target() == "local"
    assert cfg.servers.mem_limit == 2 * 1024**3
    assert cfg.servers.mem_reservation == 1024**3
    assert cfg.hub.auth.kind == "shared-password"
    happy = load_config(FIXTURES / "config.happy.yaml")
    assert happy == parse_config({}, "defaults")


def test_aws_section_makes_aws_the_default_target():
    cfg = parse_config({"aws": {"region": "eu-central-1"}}, "x.yaml")
    assert cfg.default_target() == "aws"


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_config_is_one_clear_line_and_touches_nothing(name, monkeypatch):
    path = FIXTURES / f"config.error.{name}.yaml"
    with pytest.raises(SwarmhubError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:")
    assert ERRORS[name] in str(err.value)

    # Through the CLI: exit 1, one line, and the engine is never reached.
    from swarmhub.local import engine

    def untouchable(*args, **kwargs):
        raise AssertionError("a bad config reached the Docker engine")

    monkeypatch.setattr(engine, "ensure_engine", untouchable)
    monkeypatch.setattr(engine, "client", untouchable)
    result = CliRunner().invoke(cli.main, ["deploy", "--config", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and ERRORS[name] in lines[0]


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
    assert proc.stderr.strip() == f"error: {path}: hub.prot: unknown key"


def test_missing_config_file_named_explicitly_is_an_error(tmp_path):
    result = CliRunner().invoke(cli.main, ["status", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "no such config file" in result.output


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys; sys.argv=['pipeline.py','--help']\n"
        "from swarmhub import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('docker', 'boto3', 'pydantic', 'jinja2', 'requests')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512M", 512 * 1024**2), ("2G", 2 * 1024**3), ("1.5Gi", int(1.5 * 1024**3)), (1024, 1024)],
)
def test_sizes(text, expected):
    cfg = parse_config({"servers": {"mem_limit": text, "mem_reservation": 1}}, "x")
    assert cfg.servers.mem_limit == expected
