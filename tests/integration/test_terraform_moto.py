"""The fleet's Terraform, as `deploy --target aws` renders and runs it, against moto.

For the example config (its `aws` section uncommented) and for a config with a
domain, GitHub sign-in and the Chef Server: `init -plugin-dir`, `validate`,
then swarmhub.aws.deploy's own deploy (plan, apply), a refresh after the
manager and the operator wrote the two secrets (neither may reach the state),
a second plan (no change of ours), `destroy` (nothing left running or billed
but the kept homes, state volume, address and secrets) and `destroy --purge`
(nothing left at all).

The emulator is moto's server, in this process (moto.server.ThreadedMotoServer
on a free loopback port), so that the three calls moto lacks and Terraform
makes can be answered by the shims in `_moto_shims` — EFS PutBackupPolicy,
EFS DeleteFileSystemPolicy and EC2 MonitorInstances (moto keeps no
instance's detailed monitoring), and ForceDelete of an Auto Scaling group as
AWS does it — instead of leaving the resources that need them out: every
resource of the configuration is applied.
Nothing in terraform/ knows about the emulator: the provider and the S3
backend find it through AWS_ENDPOINT_URL, the provider mirror comes through
TF_CLI_ARGS_init (`-plugin-dir`), and the backend's path-style addressing
(a loopback endpoint has no bucket subdomains) through the same variable.

Skips only when terraform or the hashicorp/aws provider mirror is absent
(under CI=true that fails).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import yaml

from swarmhub.aws import deploy
from swarmhub.aws import terraform as tf
from swarmhub.config import load_config
from tests.conftest import REPO, UNDER_CI, require_tool

REGION = "eu-central-1"
PROVIDER = "registry.terraform.io/hashicorp/aws"
# Where machine images and developer machines keep a filesystem mirror.
MIRROR_ROOTS = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "~/.terraform.d/plugins")


def provider_mirror() -> Path:
    """A directory usable as `terraform init -plugin-dir` holding hashicorp/aws 5.x."""
    roots = [os.environ.get("SWARMHUB_TF_PLUGIN_DIR"), *MIRROR_ROOTS]
    for root in filter(None, roots):
        base = Path(root).expanduser()
        if list(base.glob(f"{PROVIDER}/5.*/linux_amd64/terraform-provider-aws*")):
            return base
    message = f"no filesystem mirror of {PROVIDER} 5.x in {', '.join(MIRROR_ROOTS)}"
    if UNDER_CI:
        pytest.fail(message)
    pytest.skip(message)


def wait_for(what: str, check, seconds: float, interval: float = 0.2):
    """check() until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"gave up after {seconds:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- emulator


def _moto_shims(patch: pytest.MonkeyPatch) -> None:
    """The three calls Terraform makes that moto 5 does not implement (and the
    backup policy's read after them), and two it gets wrong: hosted zone ids
    that do not start with Z, and DeleteAutoScalingGroup with ForceDelete terminates every
    instance of the group on AWS, protected from scale-in or not; moto keeps
    the protected ones running."""
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.ec2.responses.monitoring import Monitoring
    from moto.efs.responses import EFSResponse
    from moto.route53 import models as route53_models

    delete_group = AutoScalingResponse.delete_auto_scaling_group

    def delete_auto_scaling_group(self):
        if str(self._get_param("ForceDelete")).lower() == "true":
            name = self._get_param("AutoScalingGroupName")
            group = self.autoscaling_backend.autoscaling_groups.get(name)
            for state in group.instance_states if group else []:
                state.protected_from_scale_in = False
        return delete_group(self)

    def put_backup_policy(self):
        fs_id = self._get_param("FileSystemId")
        status = self._get_param("BackupPolicy")["Status"]
        self.efs_backend.file_systems_by_id[fs_id].swarmhub_backup = status
        body = {"BackupPolicy": {"Status": status}}
        return json.dumps(body), {"Content-Type": "application/json"}

    describe_backup = EFSResponse.describe_backup_policy

    def describe_backup_policy(self):
        fs = self.efs_backend.file_systems_by_id.get(self._get_param("FileSystemId"))
        status = getattr(fs, "swarmhub_backup", None)
        if status is None:
            return describe_backup(self)
        body = {"BackupPolicy": {"Status": status}}
        return json.dumps(body), {"Content-Type": "application/json"}

    def delete_file_system_policy(self):
        fs_id = self._get_param("FileSystemId")
        self.efs_backend.file_systems_by_id[fs_id].file_system_policy = None
        return "{}", {"Content-Type": "application/json"}

    def monitor_instances(self):
        # (moto's RunInstances also drops Monitoring.Enabled: the provider
        # then calls this and waits until describe says "enabled".)
        ids = self._get_param("InstanceIds", [])
        for instance_id in ids:
            self.ec2_backend.get_instance(instance_id).monitoring_state = "enabled"
        items = "".join(
            f"<item><instanceId>{i}</instanceId><monitoring><state>enabled</state>"
            "</monitoring></item>"
            for i in ids
        )
        return (
            '<MonitorInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>{uuid.uuid4()}</requestId><instancesSet>{items}</instancesSet>"
            "</MonitorInstancesResponse>"
        )

    patch.setattr(EFSResponse, "put_backup_policy", put_backup_policy, raising=False)
    patch.setattr(EFSResponse, "describe_backup_policy", describe_backup_policy)
    # Hosted zone ids start with Z on AWS (the config checks it); moto's do not.
    patch.setattr(
        route53_models,
        "create_route53_zone_id",
        lambda *args, **kwargs: "Z" + uuid.uuid4().hex[:20].upper(),
    )
    patch.setattr(
        EFSResponse, "delete_file_system_policy", delete_file_system_policy, raising=False
    )
    patch.setattr(Monitoring, "monitor_instances", monitor_instances)
    patch.setattr(AutoScalingResponse, "delete_auto_scaling_group", delete_auto_scaling_group)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our loopback URL
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def emulator():
    """moto's server on a free loopback port, with the shims; its URL."""
    require_tool("terraform")
    mirror = provider_mirror()
    from moto.server import ThreadedMotoServer

    patch = pytest.MonkeyPatch()
    _moto_shims(patch)
    # One log line per request would bury a failure's reason.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"moto's server to answer on {url}", lambda: _answers(f"{url}/moto-api/"), 30)
        yield {"url": url, "mirror": mirror}
    finally:
        server.stop()
        patch.undo()


@pytest.fixture
def aws_env(emulator, monkeypatch):
    """Point boto3, the provider and the S3 backend at a freshly reset emulator."""
    reset = f"{emulator['url']}/moto-api/reset"
    req = urllib.request.Request(reset, method="POST")  # noqa: S310 - our loopback URL
    urllib.request.urlopen(req, timeout=10).close()  # noqa: S310
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "TF_CLI_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator["url"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(
        "TF_CLI_ARGS_init",
        f"-plugin-dir={emulator['mirror']} -backend-config=use_path_style=true",
    )
    # The hub cannot run in an emulator: deploy's wait for it answers at once.
    monkeypatch.setattr(deploy, "hub_api", lambda url, timeout=5.0: {"version": "emulated"})
    return emulator


def client(service: str):
    return boto3.client(service, region_name=REGION)


# --------------------------------------------------------------------------- configs


def example_config(tmp: Path, bucket: str) -> Path:
    """swarmhub.example.yaml with its `aws` section uncommented, as its comment says."""
    text = (REPO / "swarmhub.example.yaml").read_text()
    head, commented = text.split("# aws:", 1)
    lines = ("# aws:" + commented).splitlines()
    aws = "\n".join(line.removeprefix("# ").removeprefix("#") for line in lines)
    config = yaml.safe_load(head) | yaml.safe_load(aws)
    config["aws"]["region"] = REGION
    config["aws"]["fleet"]["backend"]["bucket"] = bucket
    path = tmp / "swarmhub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def ten_courses_of_300() -> list[dict]:
    """A real term: 10 courses of 300 students (the rosters ride in the hub config)."""
    return [
        {
            "name": f"course-{c}",
            "roster": [f"student-{c:02d}-{i:04d}" for i in range(300)],
            "staff": [f"teacher-{c}"],
            "start": "2026-09-01",
            "end": "2027-01-31",
        }
        for c in range(10)
    ]


def domain_config(tmp: Path, bucket: str) -> Path:
    """A domain with a Route53 zone, GitHub sign-in, the Chef Server and 10
    courses of 300 students."""
    zone = client("route53").create_hosted_zone(Name="example.org", CallerReference="shaws")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    config = {
        "name": "course",
        "hub": {
            "auth": {
                "kind": "github",
                "admin_users": ["teacher"],
                "github": {"client_id": "Iv1.0123456789abcdef", "allowed_organizations": ["uni"]},
            }
        },
        "courses": ten_courses_of_300(),
        "aws": {
            "region": REGION,
            "name_prefix": "course",
            "fleet": {
                "domain": "hub.example.org",
                "route53_zone_id": zone_id,
                "letsencrypt_email": "teacher@example.org",
                # A campus: the hub behind it, Let's Encrypt's port-80 check not.
                "hub_ingress_cidrs": ["192.0.2.0/24"],
                "chef_server": True,
                "min_workers": 1,
                "backend": {"bucket": bucket, "key": "course/terraform.tfstate"},
            },
        },
    }
    path = tmp / "swarmhub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def baked_amis(cfg, work_dir: Path) -> None:
    """What `bake --target aws` records, with AMIs the emulator knows."""
    images = client("ec2").describe_images(Owners=["amazon"])["Images"]
    ami = sorted(i["ImageId"] for i in images)[0]
    entry = {"ami_id": ami, "region": REGION, "input_hash": "0" * 64}
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "amis.json").write_text(json.dumps({"worker": entry, "chef-server": entry}))


# --------------------------------------------------------------------------- terraform


def terraform(workdir: Path, *args: str) -> str:
    out = subprocess.run(
        ["terraform", f"-chdir={workdir}", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **tf._ENV},
        timeout=300,
    )
    return out.stdout


def state(workdir: Path) -> tuple[str, list[dict]]:
    """The raw state (as the backend holds it) and its managed resources."""
    raw = terraform(workdir, "state", "pull")
    data = json.loads(raw) if raw.strip() else {"resources": []}
    managed = [r for r in data.get("resources", []) if r.get("mode") == "managed"]
    return raw, managed


def addresses(resources: list[dict]) -> set[str]:
    out = set()
    for r in resources:
        prefix = f"{r['module']}." if r.get("module") else ""
        out.add(f"{prefix}{r['type']}.{r['name']}")
    return out


def _unknown(mark) -> bool:
    """after_unknown marks a value (or something inside it) known only after apply."""
    if isinstance(mark, dict):
        return any(_unknown(v) for v in mark.values())
    if isinstance(mark, list):
        return any(_unknown(v) for v in mark)
    return mark is True


def _blank(value):
    """moto answers "" where the provider sent nothing, and the other way round."""
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return None if value == "" else value


def _emulator_artefact(rtype: str, key: str, before, after, unknown) -> bool:
    """A difference moto makes, not our configuration (each checked on its values)."""
    if _blank(before) == _blank(after) and not _unknown(unknown):
        return True
    if rtype == "aws_vpc_security_group_ingress_rule" and key == "referenced_security_group_id":
        # moto answers "<account>/sg-..." for a group of the same account.
        return isinstance(before, str) and before.split("/")[-1] == after
    if rtype == "aws_vpc_security_group_ingress_rule" and key == "description":
        return before is None  # moto drops a rule's description
    if rtype == "aws_autoscaling_group" and key == "default_instance_warmup":
        return before in (0, None)  # moto does not keep it
    if rtype == "aws_launch_template" and key == "tag_specifications":
        # moto echoes the provider's default tags as a launch-template tag spec.
        extra = [t for t in before or [] if t not in (after or [])]
        return all(t.get("resource_type") == "launch-template" for t in extra)
    if rtype == "aws_launch_template" and key in ("default_version", "latest_version"):
        return unknown is True  # follows from the tag_specifications echo
    if rtype == "aws_autoscaling_group" and key == "launch_template":
        return _unknown(unknown)  # the version of the template above
    return False


def changes_of_ours(workdir: Path, plan_file: str) -> list[str]:
    """Every planned change the emulator's artefacts do not explain."""
    return plan_changes_of_ours(json.loads(terraform(workdir, "show", "-json", plan_file)))


def plan_changes_of_ours(plan: dict) -> list[str]:
    """changes_of_ours for a plan already shown as JSON."""
    ours = []
    excused_instances: set[str] = set()
    # Instances first (resource_changes is sorted by address, but do not rely on it).
    changes = sorted(plan.get("resource_changes", []), key=lambda rc: rc["type"] != "aws_instance")
    for rc in changes:
        change = rc["change"]
        if change["actions"] in (["no-op"], ["read"]):
            continue
        before, after = change["before"] or {}, change["after"] or {}
        unknown = change.get("after_unknown") or {}
        if change["actions"] != ["update"]:
            paths = change.get("replace_paths") or []
            detail = {p[0]: (before.get(p[0]), after.get(p[0])) for p in paths if p}
            moto_address = {"associate_public_ip_address": (True, False)}
            if rc["type"] == "aws_instance" and detail == moto_address:
                # moto gives every instance a public address, asked or not.
                excused_instances.add(rc["address"])
                continue
            instance = rc["address"].replace("aws_ec2_instance_state.", "aws_instance.")
            if (
                rc["type"] == "aws_ec2_instance_state"
                and set(detail) == {"instance_id"}
                and instance in excused_instances
            ):
                # The state of the instance moto's artefact above replaces.
                continue
            ours.append(f"{rc['address']}: {change['actions']} because of {detail}")
            continue
        for key in sorted(set(before) | set(after) | set(unknown)):
            if before.get(key) == after.get(key) and not _unknown(unknown.get(key)):
                continue
            if not _emulator_artefact(
                rc["type"], key, before.get(key), after.get(key), unknown.get(key)
            ):
                if (
                    rc["address"] == "module.workers.aws_launch_template.this"
                    and key == "user_data"
                    and _unknown(unknown.get(key))
                    and "module.chef_server[0].aws_instance.this" in excused_instances
                ):
                    # The workers' user-data names the Chef Server's private
                    # address, unknown while moto's artefact replaces it.
                    continue
                ours.append(f"{rc['address']}.{key}: {before.get(key)!r} -> {after.get(key)!r}")
    return ours


# --------------------------------------------------------------------------- checks


def running_instances() -> list[str]:
    pages = (
        client("ec2")
        .get_paginator("describe_instances")
        .paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping"]}]
        )
    )
    return [i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]]


def billed_left_running(prefix: str) -> list[str]:
    """What would still cost compute or NAT money."""
    left = [f"instance {i}" for i in running_instances()]
    groups = client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    left += [f"group {g['AutoScalingGroupName']}" for g in groups]
    nats = client("ec2").describe_nat_gateways()["NatGateways"]
    left += [f"nat {n['NatGatewayId']}" for n in nats if n["State"] in ("pending", "available")]
    return left


def readable_parameters(prefix: str) -> dict[str, set[str]]:
    """Per role of ours: the SSM parameter names its policies let it read
    (GetParameter*), from the policies as applied; managed policies that read
    parameters (AmazonSSMManagedInstanceCore) show up as "*"."""
    iam = client("iam")
    out: dict[str, set[str]] = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if not name.startswith(f"{prefix}-") or "lifecycle" in name:
            continue
        if not any(
            s.get("Principal", {}).get("Service") == "ec2.amazonaws.com"
            for s in role["AssumeRolePolicyDocument"]["Statement"]
        ):
            continue
        docs = [
            iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
        ]
        readable: set[str] = set()
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            if "SSM" in attached["PolicyName"]:
                readable.add("*")
        for doc in docs:
            doc = json.loads(doc) if isinstance(doc, str) else doc
            for stmt in doc["Statement"]:
                actions = stmt.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                if stmt.get("Effect") != "Allow" or not any(
                    a in ("ssm:*", "*") or a.startswith("ssm:GetParameter") for a in actions
                ):
                    continue
                resources = stmt.get("Resource", [])
                resources = [resources] if isinstance(resources, str) else resources
                readable |= {
                    r.split(":parameter", 1)[-1] if ":parameter" in r else r for r in resources
                }
        out[name] = readable
    return out


CASES = {
    "example": (example_config, {"module.chef_server[0].aws_instance.this"}),
    "domain-github-chef": (
        domain_config,
        {"module.chef_server[0].aws_instance.this", "module.dns[0].aws_route53_record.this"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fleet_applies_replans_clean_keeps_secrets_out_and_destroys(case, aws_env, tmp_path):
    make_config, extra = CASES[case]
    bucket = f"tfstate-{case}"
    client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    cfg = load_config(make_config(tmp_path, bucket))
    work_dir = tmp_path / ".work" / "aws"
    baked_amis(cfg, work_dir)
    prefix = cfg.aws.name_prefix

    # init -plugin-dir (TF_CLI_ARGS_init) with deploy's own backend config, validate.
    runner = deploy._setup(cfg, work_dir)
    runner.validate()
    workdir = runner.workdir
    tfvars = json.loads((workdir / f"{cfg.name}.auto.tfvars.json").read_text())
    assert "emulator" not in json.dumps(tfvars) and "endpoint" not in json.dumps(tfvars)

    started = time.monotonic()
    deploy.deploy(cfg, work_dir=work_dir)
    applied = time.monotonic() - started

    raw, resources = state(workdir)
    have = addresses(resources)
    expected = {
        "module.manager.aws_autoscaling_group.this",
        "module.manager.aws_eip.this",
        "module.manager.aws_ebs_volume.state",
        "module.manager.aws_network_interface.this",
        "module.workers.aws_autoscaling_group.this",
        "module.workers.aws_sqs_queue.lifecycle",
        "module.storage.aws_efs_file_system.this",
        "module.storage.aws_efs_backup_policy.this",
        "module.storage.aws_efs_mount_target.this",
        "module.secrets.aws_ssm_parameter.join_token",
        "module.secrets.aws_ssm_parameter.github_client_secret",
        "module.network.aws_nat_gateway.this",
        *extra,
    }
    assert expected <= have, sorted(expected - have)
    asg = client("autoscaling")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{prefix}-workers"])
    (workers,) = group["AutoScalingGroups"]
    assert (workers["MinSize"], workers["MaxSize"]) == (1, 10)
    assert all(i["ProtectedFromScaleIn"] for i in workers["Instances"])
    hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=f"{prefix}-workers")
    assert {h["LifecycleTransition"] for h in hooks["LifecycleHooks"]} == {
        "autoscaling:EC2_INSTANCE_LAUNCHING",
        "autoscaling:EC2_INSTANCE_TERMINATING",
    }
    outputs = runner.output()
    if cfg.aws.fleet.domain:
        assert outputs["hub_url"] == "https://hub.example.org"
        records = client("route53").list_resource_record_sets(
            HostedZoneId=cfg.aws.fleet.route53_zone_id
        )["ResourceRecordSets"]
        (record,) = [r for r in records if r["Name"].rstrip(".") == "hub.example.org"]
        assert record["ResourceRecords"][0]["Value"] == outputs["hub_public_ip"]
    else:
        assert outputs["hub_url"] == f"http://{outputs['hub_public_ip']}"

    # The manager publishes the join token, the operator the GitHub secret;
    # a refresh must not copy either into the state.
    token = f"SWMTKN-1-{uuid.uuid4().hex}"
    github = f"gh-{uuid.uuid4().hex}"
    ssm = client("ssm")
    ssm.put_parameter(Name=outputs["join_token_parameter"], Value=token, Overwrite=True)
    ssm.put_parameter(Name=outputs["github_client_secret_parameter"], Value=github, Overwrite=True)
    terraform(workdir, "apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color")
    raw, _ = state(workdir)
    assert token not in raw and github not in raw
    user_data = [
        v["LaunchTemplateData"].get("UserData", "")
        for lt in client("ec2").describe_launch_templates()["LaunchTemplates"]
        for v in client("ec2").describe_launch_template_versions(
            LaunchTemplateId=lt["LaunchTemplateId"]
        )["LaunchTemplateVersions"]
    ]
    assert user_data and not [u for u in user_data if token in u or github in u]
    # Nor in any tag.
    tags = [t["Value"] for t in client("ec2").describe_tags()["Tags"]]
    assert tags and not [v for v in tags if token in v or github in v]

    # The manager's user-data within EC2's limit (which moto does not enforce),
    # however large the config: that reaches it as the S3 object it names.
    (manager_lt,) = [
        lt
        for lt in client("ec2").describe_launch_templates()["LaunchTemplates"]
        if lt["LaunchTemplateName"].startswith(f"{prefix}-manager-")
    ]
    (latest,) = client("ec2").describe_launch_template_versions(
        LaunchTemplateId=manager_lt["LaunchTemplateId"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    raw_user_data = base64.b64decode(latest["LaunchTemplateData"]["UserData"])
    assert len(raw_user_data) <= 16384 and outputs["manager_user_data_bytes"] <= 16384
    manager_boot = gzip.decompress(raw_user_data).decode()
    config_arn = outputs["hub_config_object"]
    config_bucket, config_key = config_arn.split(":::", 1)[1].split("/", 1)
    version = re.search(r"--version-id '([^']+)'", manager_boot).group(1)
    s3_object = client("s3").get_object(Bucket=config_bucket, Key=config_key, VersionId=version)
    assert json.loads(s3_object["Body"].read()) == json.loads(tfvars["hub_config"])
    assert s3_object["ServerSideEncryption"] == "aws:kms"
    assert hashlib.sha256(tfvars["hub_config"].encode()).hexdigest() in manager_boot
    if cfg.courses:
        assert len(tfvars["hub_config"]) > 16384 and "student-09-0299" not in manager_boot
    print(
        f"{case}: manager user-data {len(raw_user_data)} bytes, config {len(tfvars['hub_config'])}"
    )

    # The hub's ports: 443 from hub_ingress_cidrs; 80 with a domain (ACME and
    # the redirect only) from anywhere, else as 443.
    (hub_sg,) = client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{prefix}-hub"]}]
    )["SecurityGroups"]
    ingress = {(p["FromPort"], r["CidrIp"]) for p in hub_sg["IpPermissions"] for r in p["IpRanges"]}
    cidrs = set(cfg.aws.fleet.hub_ingress_cidrs)
    http = {"0.0.0.0/0"} if cfg.aws.fleet.domain else cidrs
    assert ingress == {(443, c) for c in cidrs} | {(80, c) for c in http}, ingress

    # No container reaches a role through IMDS: one hop on every launch template.
    hops = {
        lt["LaunchTemplateName"]: v["LaunchTemplateData"]["MetadataOptions"].get(
            "HttpPutResponseHopLimit"
        )
        for lt in client("ec2").describe_launch_templates()["LaunchTemplates"]
        for v in client("ec2").describe_launch_template_versions(
            LaunchTemplateId=lt["LaunchTemplateId"]
        )["LaunchTemplateVersions"]
    }
    assert set(hops.values()) == {1}, hops

    # Workers are told where the Chef Server is and which parameters to read,
    # by name and address only, and enroll beside the join.
    if cfg.aws.fleet.chef_server:
        chef_ip = outputs["chef_server_private_ip"]
        (worker_lt,) = [
            lt
            for lt in client("ec2").describe_launch_templates()["LaunchTemplates"]
            if lt["LaunchTemplateName"].startswith(f"{prefix}-workers-")
        ]
        (latest,) = client("ec2").describe_launch_template_versions(
            LaunchTemplateId=worker_lt["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"]
        worker_boot = base64.b64decode(latest["LaunchTemplateData"]["UserData"]).decode()
        assert (
            f"SWARMHUB_CHEF_SERVER_URL=https://{chef_ip}/organizations/"
            f"{cfg.aws.ami.chef_organization}\n"
        ) in worker_boot
        assert f"SWARMHUB_CHEF_VALIDATOR_PARAM=/{prefix}/chef-server/validator-key\n" in worker_boot
        assert f"SWARMHUB_CHEF_TLS_CERT_PARAM=/{prefix}/chef-server/tls-cert\n" in worker_boot
        assert 'if [ "true" = true ]; then' in worker_boot
        assert "PRIVATE KEY" not in worker_boot
    chef_reads = (
        {f"/{prefix}/chef-server/validator-key", f"/{prefix}/chef-server/tls-cert"}
        if cfg.aws.fleet.chef_server
        else set()
    )

    # Every role reads only its own parameters: a worker the join token and,
    # with a Chef Server, the validator key and certificate (never the admin key).
    assert readable_parameters(prefix) == {
        f"{prefix}-worker": {outputs["join_token_parameter"], *chef_reads},
        f"{prefix}-manager": {outputs["github_client_secret_parameter"]},
        **({f"{prefix}-chef-server": set()} if cfg.aws.fleet.chef_server else {}),
    }

    # A second plan: nothing of ours changes.
    runner.plan("second.tfplan")
    ours = changes_of_ours(workdir, "second.tfplan")
    assert ours == [], "\n".join(ours)

    # destroy: nothing left running or billed; homes, state, address, secrets kept.
    deploy.destroy(cfg, purge=False, work_dir=work_dir)
    assert billed_left_running(prefix) == []
    _, kept = state(workdir)
    kept_addrs = addresses(kept)
    assert {
        "module.manager.aws_ebs_volume.state",
        "module.manager.aws_eip.this",
        "module.storage.aws_efs_file_system.this",
        "module.secrets.aws_ssm_parameter.join_token",
    } <= kept_addrs
    assert "module.workers.aws_autoscaling_group.this" not in kept_addrs
    # The Chef Server (every node's enrollment, its keys) is stopped, not destroyed.
    if cfg.aws.fleet.chef_server:
        assert "module.chef_server[0].aws_instance.this" in kept_addrs
        chef = client("ec2").describe_instances(
            Filters=[{"Name": "tag:swarmhub:role", "Values": ["chef-server"]}]
        )["Reservations"]
        # (moto's artefact above replaces the instance: the old one is terminated.)
        states = [i["State"]["Name"] for r in chef for i in r["Instances"]]
        assert [s for s in states if s != "terminated"] == ["stopped"], states

    # destroy --purge: nothing left in state or in the account.
    deploy.destroy(cfg, purge=True, work_dir=work_dir)
    _, left = state(workdir)
    assert left == []
    assert billed_left_running(prefix) == []
    assert client("efs").describe_file_systems()["FileSystems"] == []
    assert (
        client("ec2").describe_volumes(Filters=[{"Name": "tag:swarmhub:name", "Values": [prefix]}])[
            "Volumes"
        ]
        == []
    )
    assert client("ec2").describe_addresses()["Addresses"] == []
    assert ssm.describe_parameters()["Parameters"] == []
    assert [
        b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)
    ] == []
    assert client("sqs").list_queues().get("QueueUrls", []) == []
    roles = client("iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith(prefix)] == []
    vpcs = client("ec2").describe_vpcs(Filters=[{"Name": "tag:swarmhub:name", "Values": [prefix]}])
    assert vpcs["Vpcs"] == []
    # Ours scheduled for deletion. moto makes the account's aws/ebs key itself
    # (for default EBS encryption) and calls it customer managed: not ours.
    kms = client("kms")
    aws_managed = {
        a.get("TargetKeyId")
        for a in kms.list_aliases()["Aliases"]
        if a["AliasName"].startswith("alias/aws/")
    }
    metas = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    ours = [m for m in metas if m["KeyId"] not in aws_managed]
    left = [(m["Description"], m["KeyState"]) for m in ours if m["KeyState"] != "PendingDeletion"]
    assert ours and not left, left
    print(f"{case}: deploy (plan + apply) took {applied:.0f}s")
