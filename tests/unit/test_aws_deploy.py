"""The AWS deployer: rendering, command lines, progress, errors, user-data.

Terraform itself is replaced at its one boundary (swarmhub.aws.terraform._invoke);
AWS is moto's. The progress parser is fed lines Terraform 1.11 really printed,
and, where the binary is installed, a real run on a provider-less config.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from swarmhub.aws import deploy
from swarmhub.aws import terraform as tf
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from tests.conftest import REPO, require_tool
from tests.helpers import fake_tools, run_script

REGION = "eu-west-1"
WORKER_AMI = "ami-0123456789abcdef0"
CHEF_AMI = "ami-0fedcba9876543210"

# Printed by `terraform plan -json` / `apply -json` (Terraform 1.11.4).
PLAN_LINES = [
    '{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.177702Z","terraform":"1.11.4","type":"version","ui":"1.2"}',  # noqa: E501
    '{"@level":"info","@message":"terraform_data.hub: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.183868Z","change":{"resource":{"addr":"terraform_data.hub","module":"","resource":"terraform_data.hub","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"hub","resource_key":null},"action":"create"},"type":"planned_change"}',  # noqa: E501
    '{"@level":"info","@message":"Plan: 1 to add, 0 to change, 0 to destroy.","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.183966Z","changes":{"add":1,"change":0,"import":0,"remove":0,"operation":"plan"},"type":"change_summary"}',  # noqa: E501
    '{"@level":"info","@message":"Outputs: 1","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.183977Z","outputs":{"hub_url":{"sensitive":false,"action":"create"}},"type":"outputs"}',  # noqa: E501
]
NO_CHANGE_LINES = [
    PLAN_LINES[0],
    '{"@level":"info","@message":"Plan: 0 to add, 0 to change, 0 to destroy.","@module":"terraform.ui","@timestamp":"2026-11-25T18:41:58.183966Z","changes":{"add":0,"change":0,"import":0,"remove":0,"operation":"plan"},"type":"change_summary"}',  # noqa: E501
]
APPLY_LINES = [
    PLAN_LINES[0],
    '{"@level":"info","@message":"terraform_data.hub: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.220512Z","hook":{"resource":{"addr":"terraform_data.hub","module":"","resource":"terraform_data.hub","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"hub","resource_key":null},"action":"create"},"type":"apply_start"}',  # noqa: E501
    '{"@level":"info","@message":"terraform_data.hub: Creation complete after 0s [id=1072ede2-b09c-e235-39e8-d50e59fc168d]","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.220978Z","hook":{"resource":{"addr":"terraform_data.hub","module":"","resource":"terraform_data.hub","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"hub","resource_key":null},"action":"create","id_key":"id","id_value":"1072ede2-b09c-e235-39e8-d50e59fc168d","elapsed_seconds":0},"type":"apply_complete"}',  # noqa: E501
    '{"@level":"info","@message":"Apply complete! Resources: 1 added, 0 changed, 0 destroyed.","@module":"terraform.ui","@timestamp":"2026-11-25T18:40:58.227523Z","changes":{"add":1,"change":0,"import":0,"remove":0,"operation":"apply"},"type":"change_summary"}',  # noqa: E501
]
DIAGNOSTIC = '{"@level":"error","@message":"Error: Reference to undeclared input variable","@module":"terraform.ui","@timestamp":"2026-11-25T18:41:01.558574Z","diagnostic":{"severity":"error","summary":"Reference to undeclared input variable","detail":"An input variable with the name \\"missing\\" has not been declared. This variable can be declared with a variable \\"missing\\" {} block.","range":{"filename":"bad.tf","start":{"line":2,"column":11,"byte":44},"end":{"line":2,"column":22,"byte":55}},"snippet":{"context":"resource \\"terraform_data\\" \\"bad\\"","code":"  input = var.missing","start_line":2,"highlight_start_offset":10,"highlight_end_offset":21,"values":[]}},"type":"diagnostic"}'  # noqa: E501
OUTPUTS = {
    "hub_url": {"sensitive": False, "type": "string", "value": "https://hub.example.org"},
    "worker_asg_name": {"sensitive": False, "type": "string", "value": "swarmhub-workers"},
    "github_client_secret_parameter": {
        "sensitive": False,
        "type": "string",
        "value": "/swarmhub/hub/github-client-secret",
    },
}


def make_cfg(**fleet):
    fleet.setdefault("backend", {"bucket": "my-tf-state"})
    return parse_config({"aws": {"region": REGION, "fleet": fleet}}, "test.yaml")


def write_amis(work: Path, *, region: str = REGION, chef: bool = True) -> None:
    work.mkdir(parents=True, exist_ok=True)
    data = {"worker": {"ami_id": WORKER_AMI, "region": region, "input_hash": "abc"}}
    if chef:
        data["chef-server"] = {"ami_id": CHEF_AMI, "region": region, "input_hash": "def"}
    (work / "amis.json").write_text(json.dumps(data))


class FakeTerraform:
    """Stands in for the terraform binary at swarmhub.aws.terraform._invoke."""

    def __init__(self, plan_lines=PLAN_LINES, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.plan_lines = plan_lines
        self.fail_on = fail_on

    def __call__(self, args, *, capture=False, on_line=None, cwd=None):
        args = [str(a) for a in args]
        self.calls.append(args)
        verb = next(a for a in args[1:] if not a.startswith("-"))
        lines: list[str] = []
        stdout = ""
        if verb == "version":
            stdout = json.dumps({"terraform_version": "1.11.4", "platform": "linux_amd64"})
        elif verb == "plan":
            lines = [DIAGNOSTIC] if self.fail_on == "plan" else self.plan_lines
        elif verb == "apply":
            lines = APPLY_LINES
        elif verb == "output":
            stdout = json.dumps(OUTPUTS)
        for line in lines:
            if on_line:
                on_line(line)
        if self.fail_on == verb:
            raise SwarmhubError(f"command failed (exit 1): {' '.join(args)}")
        return subprocess.CompletedProcess(args, 0, stdout or "\n".join(lines), "")

    def verbs(self) -> list[str]:
        return [next(a for a in c[1:] if not a.startswith("-")) for c in self.calls]


@pytest.fixture
def fake_tf(monkeypatch):
    fake = FakeTerraform()
    monkeypatch.setattr(tf, "_invoke", fake)
    return fake


@pytest.fixture
def hub_up(monkeypatch):
    monkeypatch.setattr(deploy, "hub_api", lambda url, timeout=5.0: {"version": "5.4.2"})


@pytest.fixture
def aws_env(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.fixture
def binary(tmp_path):
    """An executable named like the tool: find_binary only needs PATH lookup."""
    path = tmp_path / "bin" / "terraform"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)
    return str(path)


# ------------------------------------------------------------------ AMI state


def test_load_amis_reads_the_bake_state(tmp_path):
    write_amis(tmp_path)
    assert deploy.load_amis(make_cfg(), tmp_path) == {"worker": WORKER_AMI, "chef-server": CHEF_AMI}


def test_load_amis_without_bake_says_to_bake(tmp_path):
    with pytest.raises(SwarmhubError, match="no AMIs baked yet.*pipeline.py bake --target aws"):
        deploy.load_amis(make_cfg(), tmp_path)


def test_load_amis_needs_chef_server_only_when_enabled(tmp_path):
    write_amis(tmp_path, chef=False)
    with pytest.raises(SwarmhubError, match="no chef-server AMI"):
        deploy.load_amis(make_cfg(), tmp_path)
    assert deploy.load_amis(make_cfg(chef_server=False), tmp_path) == {"worker": WORKER_AMI}


def test_load_amis_refuses_an_ami_of_another_region(tmp_path):
    write_amis(tmp_path, region="us-east-1")
    with pytest.raises(SwarmhubError, match="is in us-east-1, the fleet in eu-west-1"):
        deploy.load_amis(make_cfg(), tmp_path)


# ------------------------------------------------------------------ rendering


def test_tfvars_carry_the_config_and_the_amis_and_match_the_root_variables():
    cfg = make_cfg(min_workers=2, max_workers=12, warm_pool_size=1, domain="hub.example.org")
    tfvars = deploy.render_tfvars(cfg, {"worker": WORKER_AMI, "chef-server": CHEF_AMI})
    assert tfvars["worker_ami_id"] == WORKER_AMI
    assert tfvars["chef_server_ami_id"] == CHEF_AMI
    assert (tfvars["min_workers"], tfvars["max_workers"], tfvars["warm_pool_size"]) == (2, 12, 1)
    assert tfvars["domain"] == "hub.example.org"
    assert tfvars["region"] == REGION and tfvars["running"] is True
    assert "vpc_id" not in tfvars  # unset: the module's default, a new VPC
    import hcl2

    declared = {
        next(iter(v)).strip('"')
        for v in hcl2.loads((REPO / "terraform" / "variables.tf").read_text())["variable"]
    }
    assert set(tfvars) <= declared


def test_tfvars_hold_no_secret():
    cfg = parse_config(
        {
            "hub": {
                "auth": {
                    "kind": "github",
                    "admin_users": ["prof"],
                    "github": {"client_id": "Iv1.abc", "allowed_organizations": ["physics-101"]},
                }
            },
            "aws": {"region": REGION, "fleet": {"backend": {"bucket": "b-state"}}},
        },
        "t.yaml",
    )
    text = json.dumps(deploy.render_tfvars(cfg, {"worker": WORKER_AMI}))
    assert not re.search(r"secret|token|password|SWMTKN", text, re.I)


def test_autoscaler_above_the_group_maximum_is_refused():
    # Refused when the config is loaded, before credentials, AMIs or terraform.
    with pytest.raises(SwarmhubError, match="max_nodes.*above.*max_workers"):
        parse_config(
            {
                "autoscaler": {"max_nodes": 20},
                "aws": {"region": REGION, "fleet": {"max_workers": 10}},
            },
            "t.yaml",
        )


def test_backend_config_lockfile_or_dynamodb_and_a_bucket_is_required():
    assert deploy.backend_config(make_cfg()) == [
        "bucket=my-tf-state",
        "key=swarmhub/terraform.tfstate",
        f"region={REGION}",
        "encrypt=true",
        "use_lockfile=true",
    ]
    cfg = make_cfg(
        backend={"bucket": "b-state", "lock": "dynamodb:tf-locks", "region": "us-east-1"}
    )
    assert deploy.backend_config(cfg)[-1] == "dynamodb_table=tf-locks"
    assert "region=us-east-1" in deploy.backend_config(cfg)
    with pytest.raises(SwarmhubError, match="backend.bucket is not set"):
        deploy.backend_config(make_cfg(backend={}))


def test_workdir_is_a_copy_in_step_with_terraform(tmp_path):
    stale = tmp_path / "terraform" / "modules" / "gone" / "main.tf"
    stale.parent.mkdir(parents=True)
    stale.write_text("# removed from the source\n")
    dest = deploy.prepare_workdir(tmp_path)
    assert (dest / "main.tf").read_text() == (REPO / "terraform" / "main.tf").read_text()
    assert (dest / "modules" / "workers" / "templates" / "user-data.sh.tftpl").exists()
    assert not stale.exists()


# ------------------------------------------------------------------ commands


def test_deploy_renders_then_inits_plans_and_applies_the_saved_plan(
    tmp_path, fake_tf, hub_up, aws_env, binary, capsys
):
    write_amis(tmp_path)
    deploy.deploy(make_cfg(terraform_binary=binary), plan_only=False, work_dir=tmp_path)

    workdir = tmp_path / "terraform"
    chdir = f"-chdir={workdir}"
    assert fake_tf.verbs() == ["version", "init", "plan", "apply", "output"]
    version, init, plan, apply, output = fake_tf.calls
    assert version == [binary, "version", "-json"]
    assert init == [
        binary,
        chdir,
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        "-backend-config=bucket=my-tf-state",
        "-backend-config=key=swarmhub/terraform.tfstate",
        f"-backend-config=region={REGION}",
        "-backend-config=encrypt=true",
        "-backend-config=use_lockfile=true",
    ]
    assert plan == [binary, chdir, "plan", "-json", "-input=false", "-out=swarmhub.tfplan"]
    assert apply == [binary, chdir, "apply", "-json", "-input=false", "swarmhub.tfplan"]
    assert output == [binary, chdir, "output", "-json"]

    tfvars = json.loads((workdir / "swarmhub.auto.tfvars.json").read_text())
    assert tfvars["worker_ami_id"] == WORKER_AMI and tfvars["name"] == "swarmhub"
    out, err = capsys.readouterr()
    assert "hub: https://hub.example.org (JupyterHub 5.4.2)" in out
    assert "create done   terraform_data.hub (0s)" in err
    assert '"@level"' not in err  # progress lines, not raw JSON


def test_plan_only_shows_the_plan_and_applies_nothing(tmp_path, fake_tf, aws_env, binary):
    write_amis(tmp_path)
    deploy.deploy(make_cfg(terraform_binary=binary), plan_only=True, work_dir=tmp_path)
    assert fake_tf.verbs() == ["version", "init", "plan", "show"]
    assert fake_tf.calls[-1][-1] == "swarmhub.tfplan"


def test_deploy_twice_applies_nothing_the_second_time(
    tmp_path, monkeypatch, hub_up, aws_env, binary
):
    fake = FakeTerraform(plan_lines=NO_CHANGE_LINES)
    monkeypatch.setattr(tf, "_invoke", fake)
    write_amis(tmp_path)
    deploy.deploy(make_cfg(terraform_binary=binary), work_dir=tmp_path)
    assert "apply" not in fake.verbs()


def test_a_failed_plan_is_one_line_with_terraform_s_own_error(
    tmp_path, monkeypatch, aws_env, binary
):
    monkeypatch.setattr(tf, "_invoke", FakeTerraform(fail_on="plan"))
    write_amis(tmp_path)
    with pytest.raises(SwarmhubError) as info:
        deploy.deploy(make_cfg(terraform_binary=binary), work_dir=tmp_path)
    assert str(info.value) == "terraform plan failed: Reference to undeclared input variable"


def test_destroy_stops_the_fleet_and_purge_destroys_it(tmp_path, fake_tf, aws_env, binary):
    write_amis(tmp_path)
    cfg = make_cfg(terraform_binary=binary)
    deploy.destroy(cfg, purge=False, work_dir=tmp_path)
    tfvars = json.loads((tmp_path / "terraform" / "swarmhub.auto.tfvars.json").read_text())
    assert tfvars["running"] is False
    assert "-destroy" not in fake_tf.calls[2]
    fake_tf.calls.clear()
    deploy.destroy(cfg, purge=True, work_dir=tmp_path)
    assert "-destroy" in fake_tf.calls[2] and fake_tf.verbs()[-1] == "apply"


# ------------------------------------------------------------------ clear errors, no terraform


def test_no_credentials_is_a_clear_error_before_any_terraform_call(
    tmp_path, fake_tf, monkeypatch, binary
):
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    write_amis(tmp_path)
    with pytest.raises(SwarmhubError, match="no AWS credentials found"):
        deploy.deploy(make_cfg(terraform_binary=binary), work_dir=tmp_path)
    assert fake_tf.calls == []
    assert not (tmp_path / "terraform").exists()


def test_unbaked_amis_stop_before_terraform(tmp_path, fake_tf, aws_env, binary):
    with pytest.raises(SwarmhubError, match="no AMIs baked yet"):
        deploy.deploy(make_cfg(terraform_binary=binary), work_dir=tmp_path)
    assert fake_tf.calls == []


def test_missing_terraform_is_a_clear_error(tmp_path, fake_tf, aws_env):
    write_amis(tmp_path)
    with pytest.raises(SwarmhubError, match="no-such-terraform was not found on PATH"):
        deploy.deploy(make_cfg(terraform_binary="no-such-terraform"), work_dir=tmp_path)
    assert fake_tf.calls == []


@pytest.mark.parametrize("version", ["1.5.7", "1.10.5"])
def test_old_terraform_is_refused(monkeypatch, binary, version):
    """1.11 is the floor: write-only attributes keep the secrets out of state."""

    def old(args, **kwargs):
        return subprocess.CompletedProcess(args, 0, f'{{"terraform_version": "{version}"}}', "")

    monkeypatch.setattr(tf, "_invoke", old)
    with pytest.raises(SwarmhubError, match=rf"{re.escape(version)} is too old"):
        tf.check_version(binary)


def test_find_binary_prefers_terraform_then_tofu(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tofu = bindir / "tofu"
    tofu.write_text("#!/bin/sh\n")
    tofu.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    assert tf.find_binary(None) == str(tofu)
    terraform = bindir / "terraform"
    terraform.write_text("#!/bin/sh\n")
    terraform.chmod(0o755)
    assert tf.find_binary(None) == str(terraform)


GITHUB = {
    "kind": "github",
    "admin_users": ["teacher"],
    "github": {"client_id": "Iv1.0123456789abcdef", "allowed_organizations": ["uni"]},
}


def github_cfg(binary: str):
    return parse_config(
        {
            "hub": {"auth": GITHUB},
            "aws": {
                "region": REGION,
                "fleet": {
                    "terraform_binary": binary,
                    "backend": {"bucket": "my-tf-state"},
                    "hub_wait_seconds": 0,
                },
            },
        },
        "test.yaml",
    )


@pytest.fixture
def hub_silent(monkeypatch, capsys):
    """A hub that never answers; what deploy had printed when it first looked."""
    printed: list[str] = []

    def probe(url, timeout=5.0):
        if not printed:
            out, _ = capsys.readouterr()
            printed.append(out)
            print(out, end="")
        return None

    monkeypatch.setattr(deploy, "hub_api", probe)
    return printed


def test_a_first_github_deploy_prints_the_secret_command_first_and_ends_well(
    tmp_path, fake_tf, aws_env, binary, hub_silent, capsys
):
    """The hub waits for its client secret, which only the operator can store:
    the command comes before the wait, and a hub silent for that reason is not
    a failed deploy."""
    write_amis(tmp_path)
    deploy.deploy(github_cfg(binary), work_dir=tmp_path)  # no SwarmhubError
    command = (
        "aws ssm put-parameter --overwrite --type SecureString "
        "--name /swarmhub/hub/github-client-secret --value file:///dev/stdin"
    )
    assert command in hub_silent[0], "the command must be printed before the wait"
    out, _ = capsys.readouterr()
    assert "deployed; the hub at https://hub.example.org starts within 5 minutes" in out


def test_a_silent_hub_with_its_github_secret_stored_is_still_an_error(
    tmp_path, fake_tf, aws_env, binary, hub_silent
):
    ssm = boto3.client("ssm", region_name=REGION)
    name = "/swarmhub/hub/github-client-secret"
    ssm.put_parameter(Name=name, Value="unset: placeholder", Type="SecureString")
    ssm.put_parameter(Name=name, Value="the-secret", Type="SecureString", Overwrite=True)
    write_amis(tmp_path)
    with pytest.raises(SwarmhubError, match="the hub did not answer"):
        deploy.deploy(github_cfg(binary), work_dir=tmp_path)


def test_a_github_secret_still_at_terraform_s_placeholder_is_not_stored(aws_env):
    ssm = boto3.client("ssm", region_name=REGION)
    name = "/swarmhub/hub/github-client-secret"
    outputs = {"github_client_secret_parameter": name}
    cfg = make_cfg()
    assert not deploy.github_secret_stored(cfg, outputs)  # absent
    ssm.put_parameter(Name=name, Value="unset: placeholder", Type="SecureString")
    assert not deploy.github_secret_stored(cfg, outputs)
    ssm.put_parameter(Name=name, Value="s3cret", Type="SecureString", Overwrite=True)
    assert deploy.github_secret_stored(cfg, outputs)


def test_waiting_for_the_hub_is_bounded():
    now = [0.0]
    probes = []

    def probe(url):
        probes.append(url)
        return None

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(SwarmhubError, match="did not answer at https://h.example within 60s"):
        deploy.wait_for_hub("https://h.example", 60, probe=probe, clock=lambda: now[0], sleep=sleep)
    assert 6 <= len(probes) <= 8


# ------------------------------------------------------------------ progress parser


def test_progress_parser_turns_real_terraform_json_into_one_line_per_resource_event():
    shown = [tf.progress_line(line) for line in PLAN_LINES + APPLY_LINES[1:]]
    assert shown == [
        None,  # version
        "plan   create   terraform_data.hub",
        "Plan: 1 to add, 0 to change, 0 to destroy.",
        None,  # outputs
        "create …      terraform_data.hub",
        "create done   terraform_data.hub (0s)",
        "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.",
    ]
    assert tf.progress_line(DIAGNOSTIC).startswith(
        "error: Reference to undeclared input variable [bad.tf]: An input variable"
    )
    # Anything not JSON (a warning on stderr) is passed through, not lost.
    assert tf.progress_line("Warning: Unable to open CLI configuration file") == (
        "Warning: Unable to open CLI configuration file"
    )


def test_progress_remembers_the_summary_and_the_errors():
    progress = tf.Progress(printer=lambda _: None)
    for line in PLAN_LINES:
        progress(line)
    assert progress.changes["add"] == 1 and not progress.no_changes
    progress(DIAGNOSTIC)
    assert progress.errors == ["Reference to undeclared input variable"]


def test_progress_on_a_real_terraform_run(tmp_path, capsys):
    binary = require_tool("terraform")
    # terraform_data is built into Terraform: no provider to download.
    (tmp_path / "main.tf").write_text(
        'resource "terraform_data" "worker" {\n  count = 2\n  input = "w"\n}\n'
        'output "hub_url" {\n  value = "http://hub.test"\n}\n'
    )
    runner = tf.Terraform(binary=binary, workdir=tmp_path)
    runner.init([])
    plan = runner.plan("swarmhub.tfplan")
    assert plan.changes == {"add": 2, "change": 0, "import": 0, "remove": 0, "operation": "plan"}
    applied = runner.apply("swarmhub.tfplan")
    assert applied.changes["add"] == 2
    assert runner.output() == {"hub_url": "http://hub.test"}
    err = capsys.readouterr().err
    assert "plan   create   terraform_data.worker[0]" in err
    assert "create done   terraform_data.worker[1]" in err
    assert '{"@level"' not in err


# ------------------------------------------------------------------ user-data


def render_tftpl(path: Path, values: dict[str, str]) -> str:
    """Terraform's templatefile() for the plain ${name} interpolations we use."""
    text = path.read_text()
    assert "%{" not in text  # no directives: this renderer is exact for the template
    rendered = re.sub(r"(?<!\$)\$\{(\w+)\}", lambda m: values[m.group(1)], text)
    return rendered.replace("$${", "${")


# What the workers module passes without a Chef Server (chef_server_url null).
NO_CHEF = {
    "chef_enroll": "false",
    "chef_server_url": "none",
    "chef_org": "swarmhub",
    "chef_validator_param": "",
    "chef_tls_cert_param": "",
    "chef_enroll_deadline": "1800",
}


def test_worker_user_data_drives_the_same_join_script_as_the_local_pool(tmp_path):
    template = REPO / "terraform" / "modules" / "workers" / "templates" / "user-data.sh.tftpl"
    user_data = render_tftpl(
        template,
        {
            "manager_addr": "10.40.0.10:2377",
            "join_token_param": "/swarmhub/swarm/join-token",
            "region": REGION,
            "efs_id": "fs-12345678",
            "efs_mount": "/srv/swarmhub/efs",
            "boot_deadline": "600",
            **NO_CHEF,
        },
    )
    env_text = user_data.split("<<'SWARMHUB_ENV'\n")[1].split("SWARMHUB_ENV\n")[0]
    env = dict(line.split("=", 1) for line in env_text.splitlines())
    assert "SWMTKN" not in user_data

    # Every variable the join script reads that AWS must set is set here.
    script = REPO / "swarmhub" / "node" / "swarm-join.sh"
    assert {"SWARMHUB_MANAGER_ADDR", "SWARMHUB_ROLE", "SWARMHUB_JOIN_TOKEN_PARAM"} <= set(env)
    assert all(key in script.read_text() for key in env if key.startswith("SWARMHUB_JOIN"))

    # Run the very script with that environment; docker and aws are the boundary.
    bindir, log = fake_tools(
        tmp_path,
        {
            "docker": 'case "$1" in info) echo inactive ;; swarm) exit 0 ;; esac',
            "aws": "echo SWMTKN-1-faketoken",
        },
    )
    result = run_script(script, bindir, env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text()
    assert "aws ssm get-parameter --with-decryption --name /swarmhub/swarm/join-token" in calls
    assert "docker swarm join --token SWMTKN-1-faketoken 10.40.0.10:2377" in calls
    assert "joined 10.40.0.10:2377 as a worker" in result.stderr
    assert "faketoken" not in result.stderr  # the script never echoes the token


def test_the_worker_cookbook_runs_this_join_script_from_this_env_file():
    cookbook = REPO / "cookbooks" / "swarmhub_worker"
    if not cookbook.exists():
        pytest.skip("the worker cookbook is not in this tree yet")
    attributes = (cookbook / "attributes" / "default.rb").read_text()
    unit = (cookbook / "templates" / "swarmhub-join.service.erb").read_text()
    assert "['join']['script'] = '/usr/local/sbin/swarm-join.sh'" in attributes
    assert "['join']['env_file'] = '/etc/swarmhub/join.env'" in attributes
    assert "EnvironmentFile=<%= @env_file %>" in unit
    # The script itself, run by the wrapper that bounds it by the boot deadline.
    assert "ExecStart=<%= @wrapper %>" in unit
    assert "SWARMHUB_JOIN_SCRIPT=<%= @script %>" in unit
    template = REPO / "terraform" / "modules" / "workers" / "templates" / "user-data.sh.tftpl"
    text = template.read_text()
    assert "cat > /etc/swarmhub/join.env" in text and "swarmhub-join.service" in text


@pytest.mark.parametrize(
    ("fleet", "says"),
    [
        ({}, False),
        ({"domain": "hub.example.org", "letsencrypt_email": "ops@example.org"}, True),
        ({"domain": "hub.example.org", "route53_zone_id": "Z0123456789ABC"}, False),
    ],
)
def test_a_domain_without_route53_is_pointed_while_the_same_deploy_waits(fleet, says):
    outputs = {"hub_url": "https://hub.example.org/", "hub_public_ip": "203.0.113.7"}
    lines = deploy.dns_step(make_cfg(**fleet), outputs)
    if not says:
        assert lines == []
        return
    assert lines[0].startswith("now point hub.example.org at 203.0.113.7: an A record")
    assert "waiting up to" in lines[1]


# ------------------------------------------------------------- Chef enrollment


def worker_user_data(chef: dict[str, str]) -> str:
    template = REPO / "terraform" / "modules" / "workers" / "templates" / "user-data.sh.tftpl"
    return render_tftpl(
        template,
        {
            "manager_addr": "10.40.0.10:2377",
            "join_token_param": "/hub/swarm/join-token",
            "region": REGION,
            "efs_id": "fs-12345678",
            "efs_mount": "/srv/swarmhub/efs",
            "boot_deadline": "600",
            **chef,
        },
    )


CHEF = {
    "chef_enroll": "true",
    "chef_server_url": "https://10.40.1.20/organizations/swarmhub",
    "chef_org": "swarmhub",
    "chef_validator_param": "/hub/chef-server/validator-key",
    "chef_tls_cert_param": "/hub/chef-server/tls-cert",
    "chef_enroll_deadline": "1800",
}


def run_user_data(tmp_path: Path, user_data: str) -> tuple[Path, list[str]]:
    """The rendered user-data, run with /etc/swarmhub moved under tmp_path and a
    fake systemctl; returns that directory and the systemctl calls in order."""
    etc = tmp_path / "etc-swarmhub"
    script = tmp_path / "user-data.sh"
    script.write_text(user_data.replace("/etc/swarmhub", str(etc)))
    bindir, log = fake_tools(tmp_path, {"systemctl": "exit 0"})
    result = run_script(script, bindir, {})
    assert result.returncode == 0, result.stderr
    return etc, log.read_text().splitlines()


def test_worker_user_data_with_a_chef_server_starts_enrollment_beside_the_join(tmp_path):
    etc, systemctl = run_user_data(tmp_path, worker_user_data(CHEF))
    env = dict(line.split("=", 1) for line in (etc / "enroll.env").read_text().splitlines())
    assert env == {
        "SWARMHUB_CHEF_SERVER_URL": "https://10.40.1.20/organizations/swarmhub",
        "SWARMHUB_CHEF_ORG": "swarmhub",
        "SWARMHUB_CHEF_VALIDATOR_PARAM": "/hub/chef-server/validator-key",
        "SWARMHUB_CHEF_TLS_CERT_PARAM": "/hub/chef-server/tls-cert",
        "AWS_DEFAULT_REGION": REGION,
        "SWARMHUB_ENROLL_DEADLINE": "1800",
    }
    # Every variable the enroll script requires is set here.
    enroll = (REPO / "cookbooks/swarmhub_worker/templates/swarmhub-enroll.sh.erb").read_text()
    required = set(re.findall(r'"\$\{(SWARMHUB_\w+):\?\}"', enroll))
    assert required and required <= set(env)
    # Enrollment is started without waiting, before the join that is waited for.
    assert systemctl == [
        "systemctl enable swarmhub-enroll.service",
        "systemctl start --no-block swarmhub-enroll.service",
        "systemctl enable --now swarmhub-join.service",
    ]
    assert not (etc / "enroll.env.new").exists()


def test_worker_user_data_without_a_chef_server_neither_writes_nor_enables_enrollment(tmp_path):
    etc, systemctl = run_user_data(tmp_path, worker_user_data(NO_CHEF))
    assert not (etc / "enroll.env").exists()
    assert systemctl == ["systemctl enable --now swarmhub-join.service"]
    assert (etc / "join.env").exists()


def test_worker_user_data_names_the_validator_key_and_never_holds_one():
    user_data = worker_user_data(CHEF)
    assert "/hub/chef-server/validator-key" in user_data
    assert "PRIVATE KEY" not in user_data and "admin-key" not in user_data


def test_tfvars_carry_the_chef_organization_only_with_a_chef_server():
    cfg = parse_config(
        {"aws": {"region": REGION, "ami": {"chef_organization": "acme"}}}, source="t.yaml"
    )
    amis = {"worker": "ami-0123456789abcdef0", "chef-server": "ami-0123456789abcdef1"}
    assert deploy.render_tfvars(cfg, amis)["chef_organization"] == "acme"
    off = parse_config({"aws": {"region": REGION, "fleet": {"chef_server": False}}}, source="t")
    assert "chef_organization" not in deploy.render_tfvars(off, {"worker": amis["worker"]})


# ------------------------------------------------------------------ validate = deploy = bake


def _validate_lines(tmp_path, config: dict) -> tuple[int, list[str]]:
    import yaml
    from click.testing import CliRunner

    from swarmhub import cli

    path = tmp_path / "swarmhub.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli.main, ["validate", "--config", str(path)])
    return result.exit_code, result.output.splitlines()


SIGN_IN = {"auth": {"kind": "shared-password"}}


def test_validate_refuses_a_config_without_a_state_bucket_with_deploy_s_line(tmp_path):
    config = {"hub": SIGN_IN, "aws": {"region": REGION, "fleet": {"chef_server": False}}}
    code, lines = _validate_lines(tmp_path, config)
    with pytest.raises(SwarmhubError) as refused:
        deploy.backend_config(parse_config(config, "t.yaml"))
    assert code == 1
    assert [line for line in lines if refused.value.message in line], lines


def test_validate_refuses_an_unpinned_chef_server_with_bake_s_line(tmp_path):
    from swarmhub.aws import bake

    fleet = {"backend": {"bucket": "tf-state"}}
    config = {"hub": SIGN_IN, "aws": {"region": REGION, "fleet": fleet}}
    cfg = parse_config(config, "t.yaml")
    assert cfg.aws.fleet.chef_server  # the default
    code, lines = _validate_lines(tmp_path, config)
    specs = [bake.IMAGES["chef-server"]]
    with pytest.raises(SwarmhubError) as refused:
        bake.refuse_unpinned(cfg, specs)
    assert code == 1
    assert [line for line in lines if refused.value.message in line], lines
    # Pinned, or without a Chef Server: nothing of either is refused.
    pinned = {**config["aws"], "ami": {"chef_server_package_sha256": "a" * 64}}
    assert not parse_config({**config, "aws": pinned}, "t.yaml").aws.refusals("validate")
