"""`deploy`, `status` and `destroy` for the AWS target: render, then Terraform.

deploy: check credentials, read the AMI ids bake recorded, render the
Terraform variables into a readable file beside a copy of terraform/
(`.work/aws/terraform/<name>.auto.tfvars.json`), then `init`, `plan -out`,
`apply` of that plan, with one progress line per resource event. `--plan`
stops after showing the plan. Then wait (bounded) for the hub to answer.

Nothing secret is rendered: the join token and the OAuth client secret live
in SSM Parameter Store and are only ever named here.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from swarmhub.aws import terraform as tf
from swarmhub.errors import SwarmhubError
from swarmhub.run import echo

# Relative to where pipeline.py runs, beside bake's `.work/aws/amis.json`.
WORK_DIR = Path(".work/aws")


def default_work_dir(cfg) -> Path:
    """bake's work directory (aws.ami.work_dir when the config has it)."""
    return Path(getattr(cfg.aws.ami, "work_dir", None) or WORK_DIR)


TERRAFORM_SRC = Path(__file__).resolve().parents[2] / "terraform"
PLAN_FILE = "swarmhub.tfplan"
# What a copy of terraform/ keeps: the configuration and the provider lock.
_COPIED = ("*.tf", "*.tftpl", "*.md", ".terraform.lock.hcl")


# --------------------------------------------------------------------------- inputs


def check_credentials(region: str) -> str:
    """The AWS account the credentials belong to; one clear error without any."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        ident = boto3.session.Session(region_name=region).client("sts").get_caller_identity()
    except NoCredentialsError:
        raise SwarmhubError(
            "no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run aws sso login",
        ) from None
    except (ClientError, BotoCoreError) as exc:
        raise SwarmhubError(f"the AWS credentials do not work: {exc}") from None
    return str(ident["Account"])


def load_amis(cfg, work_dir: Path | None = None) -> dict[str, str]:
    """AMI ids by image ("worker", "chef-server") from bake's `amis.json`.

    Assumed format (written by swarmhub.aws.bake):
      {"worker": {"ami_id": "ami-...", "region": "...", "input_hash": "..."},
       "chef-server": {...}}
    """
    path = (work_dir or default_work_dir(cfg)) / "amis.json"
    hint = "run: python pipeline.py bake --target aws"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SwarmhubError(f"no AMIs baked yet ({path} is missing)", hint=hint) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SwarmhubError(f"{path}: cannot read the AMI state: {exc}") from None
    needed = ["worker"] + (["chef-server"] if cfg.aws.fleet.chef_server else [])
    amis: dict[str, str] = {}
    for image in needed:
        entry = data.get(image) if isinstance(data, dict) else None
        ami_id = entry.get("ami_id") if isinstance(entry, dict) else None
        if not isinstance(ami_id, str) or not ami_id.startswith("ami-"):
            raise SwarmhubError(f"{path}: no {image} AMI recorded", hint=hint)
        if entry.get("region") != cfg.aws.region:
            raise SwarmhubError(
                f"{path}: the {image} AMI {ami_id} is in {entry.get('region')}, "
                f"the fleet in {cfg.aws.region}",
                hint=hint,
            )
        amis[image] = ami_id
    return amis


# --------------------------------------------------------------------------- rendering


def render_tfvars(cfg, amis: dict[str, str], *, running: bool = True) -> dict:
    """The Terraform variables for this config and these AMIs (pure)."""
    fleet = cfg.aws.fleet
    if cfg.autoscaler.max_nodes > fleet.max_workers:
        raise SwarmhubError(
            f"autoscaler.max_nodes ({cfg.autoscaler.max_nodes}) is above "
            f"aws.fleet.max_workers ({fleet.max_workers}): the ASG would refuse"
        )
    tfvars = {
        "region": cfg.aws.region,
        "name": cfg.aws.name_prefix,
        "running": running,
        "worker_ami_id": amis["worker"],
        "chef_server_ami_id": amis.get("chef-server"),
        "chef_server_enabled": fleet.chef_server,
        # The organisation the chef-server AMI's first boot creates (the bake
        # renders the same value): workers enroll into it.
        "chef_organization": cfg.aws.ami.chef_organization if fleet.chef_server else None,
        "worker_instance_type": fleet.worker_instance_type,
        "manager_instance_type": fleet.manager_instance_type,
        "chef_server_instance_type": fleet.chef_server_instance_type,
        "min_workers": max(fleet.min_workers, cfg.autoscaler.min_nodes),
        "max_workers": fleet.max_workers,
        "warm_pool_size": fleet.warm_pool_size,
        "worker_volume_size": fleet.worker_volume_size,
        "manager_state_volume_size": fleet.manager_state_volume_size,
        "domain": fleet.domain,
        "route53_zone_id": fleet.route53_zone_id,
        "letsencrypt_email": fleet.letsencrypt_email,
        "hub_ingress_cidrs": list(fleet.hub_ingress_cidrs),
        "vpc_id": fleet.vpc_id,
        "vpc_cidr": fleet.vpc_cidr,
        "az_count": fleet.az_count,
        "public_subnet_ids": list(fleet.public_subnet_ids),
        "private_subnet_ids": list(fleet.private_subnet_ids),
        "tags": dict(fleet.tags),
        # A worker retries its EFS mount and join as long as the lifecycle
        # handler would still admit it (it ABANDONs after launch_timeout).
        "worker_boot_deadline_seconds": cfg.lifecycle.launch_timeout,
        # The validated config holds no secret (secrets are never in the model).
        "hub_config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True),
    }
    # Unset optionals take the module's default rather than an explicit null.
    return {k: v for k, v in tfvars.items() if v is not None}


def backend_config(cfg) -> list[str]:
    """`-backend-config` items for the S3 backend (the partial config in versions.tf)."""
    backend = cfg.aws.fleet.backend
    for refusal in cfg.aws.refusals("deploy"):  # what `validate` says too
        raise SwarmhubError(refusal.message, hint=refusal.hint)
    items = [
        f"bucket={backend.bucket}",
        f"key={backend.key}",
        f"region={backend.region or cfg.aws.region}",
        "encrypt=true",
    ]
    if backend.lock == "lockfile":
        items.append("use_lockfile=true")
    else:
        items.append(f"dynamodb_table={backend.lock.removeprefix('dynamodb:')}")
    return items


def prepare_workdir(work_dir: Path = WORK_DIR, source: Path = TERRAFORM_SRC) -> Path:
    """A copy of terraform/ under `work_dir`, in step with the source (files the
    source no longer has are removed; .terraform/ and the plan are kept)."""
    dest = work_dir / "terraform"
    wanted: set[Path] = set()
    for pattern in _COPIED:
        for src in source.rglob(pattern):
            if ".terraform" in src.relative_to(source).parts:
                continue
            rel = src.relative_to(source)
            wanted.add(rel)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    for pattern in _COPIED[:2]:
        for old in dest.rglob(pattern):
            rel = old.relative_to(dest)
            if ".terraform" not in rel.parts and rel not in wanted:
                old.unlink()
    return dest


def write_tfvars(cfg, tfvars: dict, workdir: Path) -> Path:
    path = workdir / f"{cfg.name}.auto.tfvars.json"
    path.write_text(json.dumps(tfvars, indent=2, sort_keys=True) + "\n")
    echo(f"rendered {path}")
    return path


# --------------------------------------------------------------------------- hub


def hub_api(url: str, timeout: float = 5.0) -> dict | None:
    """The hub's `/hub/api` answer, or None if it does not answer (yet)."""
    import requests

    try:
        resp = requests.get(f"{url.rstrip('/')}/hub/api", timeout=timeout)
    except requests.RequestException:
        return None
    if resp.status_code != 200:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def dns_step(cfg, outputs: dict) -> list[str]:
    """What the operator does while deploy waits, for a domain without Route53:
    point it at the address that exists from this apply on. The manager asks
    Let's Encrypt as soon as the name resolves there (checked every minute),
    so the same `deploy` sees the hub come up."""
    fleet = cfg.aws.fleet
    if not fleet.domain or fleet.route53_zone_id:
        return []
    address = outputs.get("hub_public_ip", "<hub_public_ip>")
    return [
        f"now point {fleet.domain} at {address}: an A record (TTL 300 or less); "
        "the hub gets its certificate and starts within a minute of the name resolving",
        f"waiting up to {fleet.hub_wait_seconds}s for {outputs['hub_url']}",
    ]


def github_secret_command(parameter: str) -> str:
    """How the operator stores the GitHub client secret (read from stdin: never argv)."""
    return (
        "aws ssm put-parameter --overwrite --type SecureString "
        f"--name {parameter} --value file:///dev/stdin"
    )


def github_secret_step(cfg, outputs: dict) -> list[str]:
    """What deploy prints before it waits, for GitHub sign-in: the hub starts
    only once the client secret is in SSM (swarmhub-hub-sync.timer looks every
    5 minutes), so the command comes first, not after a wait it decides."""
    if cfg.hub.auth.kind != "github":
        return []
    parameter = outputs["github_client_secret_parameter"]
    return [
        f"GitHub OAuth secret: {github_secret_command(parameter)}",
        "  (the hub starts once it is stored: paste the secret on its stdin, "
        "from another terminal while deploy waits, or later)",
    ]


def github_secret_stored(cfg, outputs: dict) -> bool:
    """Whether the operator has stored the GitHub client secret: the parameter
    has a version after Terraform's placeholder (version 1). Its value is never
    read. True when it cannot tell (then the hub's own silence is the error)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    name = outputs["github_client_secret_parameter"]
    try:
        found = (
            boto3.session.Session(region_name=cfg.aws.region)
            .client("ssm")
            .describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
        )["Parameters"]
    except (ClientError, BotoCoreError):
        return True
    return bool(found) and int(found[0].get("Version", 1)) > 1


def wait_for_hub(
    url: str,
    seconds: float,
    *,
    probe: Callable[[str], dict | None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Poll until the hub answers; SwarmhubError after `seconds`."""
    probe = probe or hub_api
    deadline = clock() + seconds
    while True:
        answer = probe(url)
        if answer is not None:
            return answer
        if clock() >= deadline:
            raise SwarmhubError(
                f"the hub did not answer at {url} within {seconds:.0f}s",
                hint="see the manager's boot log: aws ssm start-session, journalctl -u cloud-final "
                "-u swarmhub-certificate; with a domain it comes up by itself once the name "
                "resolves to the hub's address (`status` shows it)",
            )
        sleep(10)


# --------------------------------------------------------------------------- commands


def _setup(cfg, work_dir: Path | None, *, running: bool = True) -> tf.Terraform:
    """Everything before Terraform changes anything: credentials, AMIs, binary,
    backend, the rendered files, `init`."""
    work_dir = work_dir or default_work_dir(cfg)
    account = check_credentials(cfg.aws.region)
    echo(f"AWS account {account}, region {cfg.aws.region}")
    amis = load_amis(cfg, work_dir)
    binary = tf.find_binary(cfg.aws.fleet.terraform_binary)
    tf.check_version(binary)
    backend = backend_config(cfg)
    tfvars = render_tfvars(cfg, amis, running=running)
    workdir = prepare_workdir(work_dir)
    write_tfvars(cfg, tfvars, workdir)
    runner = tf.Terraform(binary=binary, workdir=workdir)
    runner.init(backend)
    return runner


def deploy(cfg, plan_only: bool = False, *, work_dir: Path | None = None) -> None:
    """Plan and apply the fleet; `plan_only` shows the plan and changes nothing."""
    runner = _setup(cfg, work_dir)
    plan = runner.plan(PLAN_FILE)
    if plan_only:
        runner.show(PLAN_FILE)
        echo("--plan: nothing was changed")
        return
    if plan.no_changes:
        echo("the fleet is up to date: nothing to apply")
    else:
        runner.apply(PLAN_FILE)
    outputs = runner.output()
    url = outputs["hub_url"]
    for line in dns_step(cfg, outputs):
        echo(line)
    # Before the wait: with GitHub sign-in the hub starts only once its client
    # secret is in SSM, which the operator can do while deploy waits.
    secret_step = github_secret_step(cfg, outputs)
    for line in secret_step:
        print(line)
    try:
        answer = wait_for_hub(url, cfg.aws.fleet.hub_wait_seconds)
    except SwarmhubError:
        if not secret_step or github_secret_stored(cfg, outputs):
            raise
        # The fleet is up; the hub waits for what only the operator can give.
        print(
            f"deployed; the hub at {url} starts within 5 minutes of its GitHub client "
            "secret being stored (the command above); `status` shows when it answers"
        )
        print(f"workers: {outputs['worker_asg_name']}")
        return
    print(f"hub: {url} (JupyterHub {answer.get('version', '?')})")
    print(f"workers: {outputs['worker_asg_name']}")


def status(cfg, *, work_dir: Path | None = None) -> None:
    """Hub URL and health, the worker group's size and instances."""
    runner = _setup(cfg, work_dir)
    outputs = runner.output()
    if not outputs:
        print("not deployed")
        return
    url = outputs["hub_url"]
    answer = hub_api(url)
    health = f"up, JupyterHub {answer.get('version', '?')}" if answer else "not answering"
    print(f"hub: {url} ({health})")
    if not outputs.get("worker_asg_name"):
        print("workers: none (the fleet is stopped: python pipeline.py deploy starts it)")
        return
    import boto3

    asg = boto3.session.Session(region_name=cfg.aws.region).client("autoscaling")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[outputs["worker_asg_name"]])[
        "AutoScalingGroups"
    ]
    if not groups:
        print(f"workers: group {outputs['worker_asg_name']} not found")
        return
    group = groups[0]
    print(
        f"workers: {len(group['Instances'])} instances, desired {group['DesiredCapacity']} "
        f"(min {group['MinSize']}, max {group['MaxSize']})"
    )
    for inst in group["Instances"]:
        protected = "protected" if inst.get("ProtectedFromScaleIn") else "unprotected"
        print(
            f"  {inst['InstanceId']} {inst.get('InstanceType', '')} "
            f"{inst['AvailabilityZone']} {inst['LifecycleState']} {protected}"
        )


def destroy(cfg, purge: bool = False, *, work_dir: Path | None = None) -> None:
    """Stop the fleet, keeping homes, hub state, addresses and secrets; with
    `purge` remove everything Terraform made, homes and hub database included."""
    runner = _setup(cfg, work_dir, running=purge)
    plan = runner.plan(PLAN_FILE, destroy=purge)
    if plan.no_changes:
        echo("nothing to remove")
        return
    runner.apply(PLAN_FILE)
    if purge:
        echo("removed the fleet, the homes and the hub's state")
    else:
        echo("stopped the fleet; homes and hub state are kept (destroy --purge removes them)")
