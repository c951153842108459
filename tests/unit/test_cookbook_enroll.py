"""The worker's Chef enrollment script, run for real with fake `curl`
(IMDS), `aws` (SSM) and `cinc-client` on PATH: what it fetches, the node
name it registers (the one the lifecycle handler deletes), that the validator
key does not outlive it, and that a Chef Server that is down ends in one line
within the deadline instead of a hang."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.conftest import REPO
from tests.helpers import calls, fake_tools

TEMPLATES = REPO / "cookbooks" / "swarmhub_worker" / "templates"
CERT = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"
KEY = "-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----"


def render(tmp_path: Path) -> tuple[Path, Path]:
    text = (TEMPLATES / "swarmhub-enroll.sh.erb").read_text()
    config_dir = tmp_path / "cinc"
    text = text.replace("<%= @config_dir %>", str(config_dir))
    text = text.replace("<%= @env_file %>", "/etc/swarmhub/enroll.env")
    assert "<%" not in text
    script = tmp_path / "swarmhub-enroll"
    script.write_text(text)
    config_dir.mkdir()
    (config_dir / "client.rb").write_text("# rendered by the cookbook\n")
    return script, config_dir


def fakes(tmp_path: Path, config_dir: Path, *, cinc: str) -> tuple[Path, Path]:
    return fake_tools(
        tmp_path,
        {
            "curl": 'case "$*" in *api/token*) echo tok ;; *instance-id*) echo i-0abc123 ;; esac',
            "aws": (
                'case "$*" in *tls-cert*) printf "%b\\n" "' + CERT + '" ;;'
                ' *validator-key*) printf "%b\\n" "' + KEY + '" ;; esac'
            ),
            # Records what it saw: the node name and that the validator key was there.
            "cinc-client": (
                f'echo "node=$SWARMHUB_NODE_NAME validator=$(cat {config_dir}/validation.pem'
                f' | head -1)" >> {tmp_path}/cinc.seen\n{cinc}'
            ),
        },
    )


ENV = {
    "SWARMHUB_CHEF_SERVER_URL": "https://10.40.1.20/organizations/swarmhub",
    "SWARMHUB_CHEF_ORG": "swarmhub",
    "SWARMHUB_CHEF_VALIDATOR_PARAM": "/hub/chef-server/validator-key",
    "SWARMHUB_CHEF_TLS_CERT_PARAM": "/hub/chef-server/tls-cert",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


def run(script: Path, bindir: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(script)],
        env={"PATH": f"{bindir}:/usr/bin:/bin", **ENV, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_enrolls_as_the_instance_id_trusting_the_published_certificate(tmp_path):
    script, config_dir = render(tmp_path)
    bindir, log = fakes(tmp_path, config_dir, cinc=f"echo client > {config_dir}/client.pem")
    result = run(script, bindir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "swarmhub-enroll: enrolled as i-0abc123 with https://10.40.1.20/organizations/swarmhub"
    ]
    # The node name is the instance id: what the lifecycle handler deletes.
    seen = (tmp_path / "cinc.seen").read_text()
    assert seen == "node=i-0abc123 validator=-----BEGIN RSA PRIVATE KEY-----\n"
    log_lines = calls(log)
    # The certificate without decryption (not a secret), the key with it.
    assert any(
        "get-parameter --name /hub/chef-server/tls-cert" in c and "--with-decryption" not in c
        for c in log_lines
    )
    assert any(
        "get-parameter --with-decryption --name /hub/chef-server/validator-key" in c
        for c in log_lines
    )
    assert [c for c in log_lines if c.startswith("cinc-client")] == [
        f"cinc-client --config {config_dir}/client.rb --no-color --once --run-lock-timeout 0"
    ]
    cert = config_dir / "trusted_certs" / "chef-server.crt"
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    # The validator key does not outlive the enrollment.
    assert not (config_dir / "validation.pem").exists()
    assert sorted(p.name for p in config_dir.iterdir()) == [
        "client.pem",
        "client.rb",
        "trusted_certs",
    ]


def test_a_node_already_enrolled_asks_nothing_of_ssm_or_the_server(tmp_path):
    script, config_dir = render(tmp_path)
    (config_dir / "client.pem").write_text("client")
    bindir, log = fakes(tmp_path, config_dir, cinc="exit 0")
    result = run(script, bindir)
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls(log) if c.startswith(("aws", "cinc-client"))]


def test_a_server_that_is_down_ends_in_one_line_within_the_deadline(tmp_path):
    script, config_dir = render(tmp_path)
    bindir, log = fakes(
        tmp_path, config_dir, cinc="echo 'ERROR: Connection refused - connect(2)' >&2; exit 1"
    )
    began = time.monotonic()
    result = run(script, bindir, SWARMHUB_ENROLL_DEADLINE="3", SWARMHUB_ENROLL_INTERVAL="1")
    elapsed = time.monotonic() - began
    assert result.returncode == 1
    assert elapsed < 10
    # Several bounded attempts, then one line that says what failed and what to do.
    assert len([c for c in calls(log) if c.startswith("cinc-client")]) >= 2
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("swarmhub-enroll: gave up after ")
    assert "https://10.40.1.20/organizations/swarmhub" in line
    assert "Connection refused" in line
    assert "systemctl restart swarmhub-enroll.service" in line
    assert result.stderr == ""
    # No validator key left behind by a failed attempt.
    assert not (config_dir / "validation.pem").exists()


def test_a_certificate_not_yet_published_is_waited_for_not_trusted_blindly(tmp_path):
    script, config_dir = render(tmp_path)
    bindir, log = fake_tools(
        tmp_path,
        {
            "curl": 'case "$*" in *api/token*) echo tok ;; *instance-id*) echo i-0abc123 ;; esac',
            # The chef server's first boot has not run yet: the parameter is missing.
            "aws": "echo 'An error occurred (ParameterNotFound)' >&2; exit 254",
            "cinc-client": "exit 0",
        },
    )
    result = run(script, bindir, SWARMHUB_ENROLL_DEADLINE="2", SWARMHUB_ENROLL_INTERVAL="1")
    assert result.returncode == 1
    assert "ParameterNotFound" in result.stdout
    assert not [c for c in calls(log) if c.startswith("cinc-client")]


def test_a_hung_server_is_cut_by_the_attempt_timeout(tmp_path):
    script, config_dir = render(tmp_path)
    bindir, _ = fakes(tmp_path, config_dir, cinc="sleep 30")
    began = time.monotonic()
    result = run(
        script,
        bindir,
        SWARMHUB_ENROLL_DEADLINE="2",
        SWARMHUB_ENROLL_INTERVAL="1",
        SWARMHUB_ENROLL_ATTEMPT_TIMEOUT="1",
    )
    assert result.returncode == 1
    assert time.monotonic() - began < 15
    assert result.stdout.startswith("swarmhub-enroll: gave up after ")


def test_the_unit_runs_beside_the_join_and_nothing_needs_it():
    unit = (TEMPLATES / "swarmhub-enroll.service.erb").read_text()
    directives = [line for line in unit.splitlines() if line and not line.startswith("#")]
    assert "After=network-online.target" in directives
    assert not [d for d in directives if "swarmhub-join" in d]
    for directive in ("Requires=", "RequiredBy=", "Before=", "BindsTo="):
        assert not [d for d in directives if d.startswith(directive)]
    assert "TimeoutStartSec=<%= @timeout %>" in directives
    # Neither the join nor the lifecycle handler knows the unit exists.
    for unit_name in ("swarmhub-join.service.erb", "swarmhub-lifecycle.service.erb"):
        assert "enroll" not in (TEMPLATES / unit_name).read_text()


def test_client_rb_verifies_the_server_against_the_pinned_certificate():
    client = (TEMPLATES / "client.rb.erb").read_text()
    assert "ssl_verify_mode :verify_peer" in client
    assert "verify_none" not in client
    assert "trusted_certs_dir '<%= @config_dir %>/trusted_certs'" in client
    script = (TEMPLATES / "swarmhub-enroll.sh.erb").read_text()
    assert 'trusted="$config_dir/trusted_certs"' in script
    assert '"$trusted/chef-server.crt"' in script
