"""Structure of terraform/ read with python-hcl2: what the fleet must and must
not expose, checked where no provider binary is reachable (no validate/plan)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import hcl2
import pytest

from tests.conftest import REPO, require_tool

TF = REPO / "terraform"
MODULES = ["network", "storage", "iam", "secrets", "manager", "workers", "chef_server", "dns"]
# Swarm's own ports, and the hub's API that user servers reach on the manager.
SWARM_PORTS = {("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789), ("tcp", 8081)}


def uq(value):
    """python-hcl2 keeps quotes on strings and keys; strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse(path: Path) -> dict:
    return hcl2.loads(path.read_text())


def blocks(path: Path, kind: str) -> dict[str, dict]:
    """{name: body} of `variable`/`output`/`module` blocks, or {type.name: body} of resources."""
    out: dict[str, dict] = {}
    for item in parse(path).get(kind, []):
        for first, body in item.items():
            if kind in ("resource", "data"):
                for second, inner in body.items():
                    out[f"{uq(first)}.{uq(second)}"] = inner
            else:
                out[uq(first)] = body
    return out


def module_dir(name: str) -> Path:
    return TF / "modules" / name


def all_tf_files() -> list[Path]:
    return sorted(p for p in TF.rglob("*.tf") if ".terraform" not in p.parts)


def resources(module: str) -> dict[str, dict]:
    return blocks(module_dir(module) / "main.tf", "resource")


def root_modules() -> dict[str, dict]:
    return blocks(TF / "main.tf", "module")


# ------------------------------------------------------------------ layout


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_terraform_aws_modules_layout(module):
    names = {p.name for p in module_dir(module).iterdir()}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= names


def test_root_pins_terraform_and_the_provider_and_uses_a_partial_s3_backend():
    terraform = parse(TF / "versions.tf")["terraform"][0]
    # 1.11: write-only attributes (secrets out of state); same as the deployer's minimum.
    assert re.fullmatch(r">= ?1\.11", uq(terraform["required_version"]))
    from swarmhub.aws.terraform import MIN_VERSION

    assert uq(terraform["required_version"]).split()[-1] == ".".join(map(str, MIN_VERSION))
    aws = terraform["required_providers"][0]["aws"]
    assert uq(aws["source"]) == "hashicorp/aws"
    assert re.match(r"~> ?5\.\d+", uq(aws["version"]))
    backend = terraform["backend"][0]
    assert list(map(uq, backend)) == ["s3"]
    # Partial: bucket/key/lock come from -backend-config, never from the file.
    assert {k for k in backend['"s3"'] if not k.startswith("__")} == set()


def test_every_variable_and_output_is_typed_and_described():
    seen = 0
    for path in all_tf_files():
        for name, body in blocks(path, "variable").items():
            assert "type" in body, f"{path}: variable {name} has no type"
            assert uq(body.get("description", "")).strip(), f"{path}: variable {name}"
            seen += 1
        # An output has no `type` argument in Terraform: its description is checked.
        for name, body in blocks(path, "output").items():
            assert uq(body.get("description", "")).strip(), f"{path}: output {name}"
            seen += 1
    assert seen > 80


# ------------------------------------------------------------------ network exposure


def test_only_the_hub_faces_outside_and_only_on_80_and_443():
    res = resources("network")
    main = parse(module_dir("network") / "main.tf")
    locals_ = {k: v for item in main["locals"] for k, v in item.items()}
    assert locals_["hub_ports"] == {"https": 443, "http": 80}

    ingress = {k: v for k, v in res.items() if k.startswith("aws_vpc_security_group_ingress_rule.")}
    assert ingress, "no ingress rules found"
    for name, rule in ingress.items():
        if "cidr_ipv4" in rule or "cidr_ipv6" in rule:
            # The one rule open to addresses: hub, from var.hub_ingress_cidrs, 80/443.
            assert name == "aws_vpc_security_group_ingress_rule.hub"
            assert rule["security_group_id"] == "${aws_security_group.hub.id}"
            assert "local.hub_ingress" in rule["for_each"]
            assert rule["cidr_ipv4"] == "${each.value.cidr}"
            assert rule["from_port"] == rule["to_port"] == "${each.value.port}"
            assert uq(rule["ip_protocol"]) == "tcp"
        else:
            assert rule["referenced_security_group_id"] == "${aws_security_group.nodes.id}", name
    variables = blocks(module_dir("network") / "variables.tf", "variable")
    assert "local.hub_port_cidrs" in locals_["hub_ingress"]
    # 443 only from hub_ingress_cidrs; 80 from anywhere only for the ACME
    # challenge with a domain (docs/decisions/0061-*.md), else as 443.
    cidrs = locals_["hub_port_cidrs"]
    assert cidrs["https"] == "${var.hub_ingress_cidrs}"
    assert cidrs["http"] == (
        '${var.acme_http_from_anywhere ? ["0.0.0.0/0"] : var.hub_ingress_cidrs}'
    )
    assert "hub_ingress_cidrs" in variables and "acme_http_from_anywhere" in variables
    root = root_modules()["network"]
    assert root["acme_http_from_anywhere"] == "${var.domain != null}"
    # Groups never carry inline rules that would escape these checks.
    for name, body in res.items():
        if name.startswith("aws_security_group."):
            assert "ingress" not in body and "egress" not in body, name


def test_the_elastic_ip_comes_after_the_internet_gateway_and_goes_before_it():
    """AWS associates an Elastic IP only in a VPC with an internet gateway, and
    will not detach the gateway while an address is mapped."""
    eip = resources("manager")["aws_eip.this"]
    assert eip["depends_on"] == ["${var.internet_gateway_id}"]
    assert root_modules()["manager"]["internet_gateway_id"] == (
        "${module.network.internet_gateway_id}"
    )
    outputs = blocks(module_dir("network") / "outputs.tf", "output")
    assert "aws_internet_gateway.this[0].id" in outputs["internet_gateway_id"]["value"]


def test_stopping_the_fleet_stops_the_chef_server_and_keeps_it():
    """Its disk holds every node's enrollment and the keys workers trust."""
    chef = root_modules()["chef_server"]
    assert chef["count"] == "${var.chef_server_enabled ? 1 : 0}"
    assert chef["running"] == "${var.running}"
    state = resources("chef_server")["aws_ec2_instance_state.this"]
    assert state["state"] == '${var.running ? "running" : "stopped"}'


def test_swarm_and_nfs_ports_are_open_only_between_our_groups():
    res = resources("network")
    main = parse(module_dir("network") / "main.tf")
    swarm_ports = main["locals"][0]["swarm_ports"]
    assert {(uq(p["protocol"]), p["port"]) for p in swarm_ports.values()} == SWARM_PORTS
    swarm = res["aws_vpc_security_group_ingress_rule.swarm"]
    assert swarm["for_each"] == "${local.swarm_ports}"
    assert swarm["security_group_id"] == "${aws_security_group.nodes.id}"

    # User servers' published ports, among the nodes only.
    servers = res["aws_vpc_security_group_ingress_rule.user_servers"]
    assert (servers["from_port"], servers["to_port"], uq(servers["ip_protocol"])) == (
        32768,
        60999,
        "tcp",
    )
    assert servers["security_group_id"] == "${aws_security_group.nodes.id}"
    assert servers["referenced_security_group_id"] == "${aws_security_group.nodes.id}"

    efs = res["aws_vpc_security_group_ingress_rule.efs"]
    assert (efs["from_port"], efs["to_port"], uq(efs["ip_protocol"])) == (2049, 2049, "tcp")
    assert efs["security_group_id"] == "${aws_security_group.efs.id}"

    chef = res["aws_vpc_security_group_ingress_rule.chef_server"]
    assert (chef["from_port"], chef["to_port"]) == (443, 443)
    assert chef["security_group_id"] == "${aws_security_group.chef_server.id}"


def test_no_ssh_anywhere_and_ssm_instead():
    for path in all_tf_files():
        text = path.read_text()
        assert not re.search(r"\b(from_port|to_port|port)\s*=\s*22\b", text), path
    iam_text = (module_dir("iam") / "main.tf").read_text()
    # The managed core policy reads every SSM parameter: only its session part.
    assert "policy_arn" not in iam_text
    attach = resources("iam")["aws_iam_role_policy.session_manager"]
    assert attach["for_each"] == "${local.roles}"
    doc = blocks(module_dir("iam") / "main.tf", "data")["aws_iam_policy_document.session_manager"]
    actions = [uq(a) for st in doc["statement"] for a in st["actions"]]
    assert "ssmmessages:OpenDataChannel" in actions
    assert not [a for a in actions if a.startswith("ssm:GetParameter")]


# ------------------------------------------------------------------ workers


def test_worker_launch_template_requires_imdsv2_with_one_hop_and_encrypts_its_disk():
    lt = resources("workers")["aws_launch_template.this"]
    meta = lt["metadata_options"][0]
    assert uq(meta["http_tokens"]) == "required"
    assert meta["http_put_response_hop_limit"] == 1
    assert lt["block_device_mappings"][0]["ebs"][0]["encrypted"] is True


def test_worker_group_is_protected_and_has_no_scaling_policy():
    asg = resources("workers")["aws_autoscaling_group.this"]
    assert asg["protect_from_scale_in"] is True
    assert asg["min_size"] == "${var.min_size}" and asg["max_size"] == "${var.max_size}"
    # The autoscaler owns the desired capacity: re-applying must not reset it.
    assert asg["lifecycle"][0]["ignore_changes"] == ["desired_capacity"]
    for path in all_tf_files():
        kinds = blocks(path, "resource")
        assert not [k for k in kinds if k.startswith("aws_autoscaling_policy.")], path
        assert "TargetTrackingScaling" not in path.read_text()
        assert "ASGAverageCPUUtilization" not in path.read_text()
    # min/max come from the config through the root.
    workers = root_modules()["workers"]
    assert "var.min_workers" in workers["min_size"] and "var.max_workers" in workers["max_size"]


def test_warm_pool_is_optional():
    asg = resources("workers")["aws_autoscaling_group.this"]
    warm = [d for d in asg["dynamic"] if '"warm_pool"' in d][0]['"warm_pool"']
    assert warm["for_each"] == "${var.warm_pool_size > 0 ? [1] : []}"


def test_lifecycle_hooks_publish_to_the_queue_the_manager_may_read():
    res = resources("workers")
    hooks = res["aws_autoscaling_group.this"]["initial_lifecycle_hook"]
    transitions = {uq(h["lifecycle_transition"]) for h in hooks}
    assert transitions == {
        "autoscaling:EC2_INSTANCE_LAUNCHING",
        "autoscaling:EC2_INSTANCE_TERMINATING",
    }
    for hook in hooks:
        assert hook["notification_target_arn"] == "${aws_sqs_queue.lifecycle.arn}"
        assert hook["role_arn"] == "${aws_iam_role.notification.arn}"
    queue = res["aws_sqs_queue.lifecycle"]
    assert queue.get("sqs_managed_sse_enabled") is True or "kms_master_key_id" in queue
    notify = blocks(module_dir("workers") / "main.tf", "data")[
        "aws_iam_policy_document.notification"
    ]["statement"][0]
    assert notify["resources"] == ["${aws_sqs_queue.lifecycle.arn}"]
    assert "sqs:SendMessage" in [uq(a) for a in notify["actions"]]

    outputs = blocks(module_dir("workers") / "outputs.tf", "output")
    assert outputs["lifecycle_queue_arn"]["value"] == "${aws_sqs_queue.lifecycle.arn}"
    assert root_modules()["iam"]["lifecycle_queue_arn"] == "${module.workers.lifecycle_queue_arn}"
    manager = _statements("manager")
    sqs = manager["ConsumeLifecycleQueue"]
    assert sqs["resources"] == ["${var.lifecycle_queue_arn}"]
    assert {uq(a) for a in sqs["actions"]} == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        # A drain longer than the queue's visibility timeout keeps its message.
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }


# ------------------------------------------------------------------ iam


def _statements(policy: str) -> dict[str, dict]:
    data = blocks(module_dir("iam") / "main.tf", "data")[f"aws_iam_policy_document.{policy}"]
    return {uq(s["sid"]): s for s in data["statement"]}


def test_workers_may_read_only_the_join_token():
    statements = _statements("worker")
    assert set(statements) == {"ReadJoinToken", "DecryptJoinToken"}
    read = statements["ReadJoinToken"]
    assert [uq(a) for a in read["actions"]] == ["ssm:GetParameter"]
    assert read["resources"] == ["${var.join_token_parameter_arn}"]
    decrypt = statements["DecryptJoinToken"]
    assert [uq(a) for a in decrypt["actions"]] == ["kms:Decrypt"]
    assert decrypt["condition"][0]["values"] == ["${var.join_token_parameter_arn}"]


def test_manager_may_change_only_its_own_group_and_write_only_the_join_token():
    statements = _statements("manager")
    steer = statements["SteerWorkerGroup"]
    assert {uq(a) for a in steer["actions"]} == {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:SetInstanceProtection",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
    }
    assert steer["resources"] == ["${local.worker_asg_arn}"]
    iam_locals = parse(module_dir("iam") / "main.tf")["locals"][0]
    assert uq(iam_locals["worker_asg_arn"]).endswith("autoScalingGroupName/${var.worker_asg_name}")
    # The name the policy allows is the name the workers' group gets.
    modules = root_modules()
    assert modules["iam"]["worker_asg_name"] == modules["workers"]["asg_name"]
    assert resources("workers")["aws_autoscaling_group.this"]["name"] == "${local.asg_name}"

    put = statements["PublishJoinToken"]
    assert [uq(a) for a in put["actions"]] == ["ssm:PutParameter"]
    assert put["resources"] == ["${var.join_token_parameter_arn}"]
    for sid, statement in statements.items():
        if statement["resources"] == ["*"]:
            assert all(":Describe" in uq(a) for a in statement["actions"]), sid


# ------------------------------------------------------------------ storage, secrets


def test_efs_is_encrypted_backed_up_tls_only_and_mounted_in_every_worker_az():
    res = resources("storage")
    efs = res["aws_efs_file_system.this"]
    assert efs["encrypted"] is True and efs["kms_key_id"] == "${var.kms_key_arn}"
    backup = res["aws_efs_backup_policy.this"]["backup_policy"][0]
    assert uq(backup["status"]) == "ENABLED"
    mount = res["aws_efs_mount_target.this"]
    assert mount["count"] == "${length(var.subnet_ids)}"
    assert mount["subnet_id"] == "${var.subnet_ids[count.index]}"
    modules = root_modules()
    assert (
        modules["storage"]["subnet_ids"]
        == modules["workers"]["subnet_ids"]
        == "${module.network.private_subnet_ids}"
    )
    policy = blocks(module_dir("storage") / "main.tf", "data")["aws_iam_policy_document.this"]
    deny = [s for s in policy["statement"] if uq(s.get("effect", "")) == "Deny"][0]
    assert uq(deny["condition"][0]["variable"]) == "aws:SecureTransport"


def test_secrets_are_securestrings_terraform_never_reads_back():
    res = resources("secrets")
    params = {k: v for k, v in res.items() if k.startswith("aws_ssm_parameter.")}
    assert set(params) == {
        "aws_ssm_parameter.join_token",
        "aws_ssm_parameter.github_client_secret",
    }
    for name, param in params.items():
        assert uq(param["type"]) == "SecureString", name
        # Write-only: value + ignore_changes still read the decrypted value back.
        assert "value" not in param, name
        assert param["value_wo"] == "${local.placeholder}", name
    # Outputs and module wiring only ever name the parameters.
    for path in all_tf_files():
        text = path.read_text()
        assert not re.search(r"aws_ssm_parameter\.\w+\.(value|insecure_value)", text), path
        assert "sensitive" not in text or "sensitive = false" in text, path


def test_hub_database_is_on_the_manager_volume_not_on_nfs():
    res = resources("manager")
    volume = res["aws_ebs_volume.state"]
    assert volume["encrypted"] is True and volume["kms_key_id"] == "${var.kms_key_arn}"
    template = (module_dir("manager") / "templates" / "user-data.sh.tftpl").read_text()
    assert "attach-volume" in template and "attach-network-interface" in template
    assert 'mkdir -p "$SWARMHUB_STATE_DIR/swarm" "$SWARMHUB_STATE_DIR/hub"' in template
    variables = blocks(module_dir("manager") / "variables.tf", "variable")
    assert uq(variables["state_dir"]["default"]) == "/var/lib/swarmhub"
    assert uq(variables["efs_mount"]["default"]) != uq(variables["state_dir"]["default"])


def test_chef_server_is_optional_and_private():
    chef = root_modules()["chef_server"]
    assert "var.chef_server_enabled" in chef["count"]
    variables = blocks(TF / "variables.tf", "variable")
    assert variables["chef_server_enabled"]["default"] is True
    instance = resources("chef_server")["aws_instance.this"]
    assert instance["associate_public_ip_address"] is False
    assert uq(instance["metadata_options"][0]["http_tokens"]) == "required"


# ------------------------------------------------------------------ user-data


TEMPLATES = sorted(TF.rglob("*.tftpl"))
SECRETISH = re.compile(r"SWMTKN-|password\s*=|secret\s*=|BEGIN [A-Z ]*PRIVATE KEY", re.I)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.parent.parent.name)
def test_user_data_holds_no_secret(template):
    text = template.read_text()
    assert not SECRETISH.search(text)
    # Every value comes from templatefile(); none of them is a parameter's value.
    module = template.parent.parent
    call = re.search(r"templatefile\([^,]+,\s*\{(.*?)\}\)", (module / "main.tf").read_text(), re.S)
    assert call, module
    for line in call.group(1).strip().splitlines():
        value = line.split("=", 1)[1]
        assert ".value" not in value and "secret_string" not in value, line


def test_worker_user_data_only_writes_join_env_and_starts_the_join_service():
    text = (module_dir("workers") / "templates" / "user-data.sh.tftpl").read_text()
    commands = [
        line.strip()
        for line in text.split("SWARMHUB_ENV\n")[-1].splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    # With a Chef Server, enrollment is written and started beside the join.
    opening = commands.index("cat > /etc/swarmhub/enroll.env.new <<'SWARMHUB_ENROLL_ENV'")
    closing = commands.index("SWARMHUB_ENROLL_ENV")
    assert commands[:opening] == ['if [ "${chef_enroll}" = true ]; then']
    assert all(re.fullmatch(r"[A-Z_]+=\$\{\w+\}", c) for c in commands[opening + 1 : closing])
    assert commands[closing + 1 :] == [
        "mv /etc/swarmhub/enroll.env.new /etc/swarmhub/enroll.env",
        "systemctl enable swarmhub-enroll.service",
        "systemctl start --no-block swarmhub-enroll.service",
        "fi",
        "systemctl enable --now swarmhub-join.service",
    ]
    head = text.split("<<'SWARMHUB_ENV'")[0]
    assert "cat > /etc/swarmhub/join.env" in head
    assert "/usr/local/sbin/swarm-join.sh" in text


# ------------------------------------------------------------------ fmt


def test_terraform_fmt_is_clean():
    terraform = require_tool("terraform")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_chef_server_may_publish_exactly_the_keys_its_first_boot_writes():
    """The bake renders ssm_prefix /<name_prefix>/chef-server (name = aws.name_prefix)."""
    doc = blocks(module_dir("iam") / "main.tf", "data")["aws_iam_policy_document.chef_server"]
    (statement,) = doc["statement"]
    assert [uq(a) for a in statement["actions"]] == ["ssm:PutParameter"]
    (resource,) = statement["resources"]
    assert uq(resource) == "${local.parameter_arn_prefix}${local.chef_ssm_prefix}/*"
    main = (module_dir("iam") / "main.tf").read_text()
    assert 'coalesce(var.chef_ssm_prefix, "/${var.name}/chef-server")' in main
    root = (TF / "main.tf").read_text()
    assert 'chef_ssm_prefix          = "/${var.name}/chef-server"' in root
    bake_src = (REPO / "swarmhub" / "aws" / "bake.py").read_text()
    assert '"ssm_prefix": f"/{cfg.aws.name_prefix}/chef-server"' in bake_src


def test_workers_read_the_validator_key_and_certificate_only_with_a_chef_server():
    main = (module_dir("iam") / "main.tf").read_text()
    worker = main.split('data "aws_iam_policy_document" "worker"')[1].split("\nresource ")[0]
    assert 'sid       = "ReadChefEnrollment"' in worker
    assert "var.chef_server_enabled && length(local.worker_chef_parameter_arns) > 0" in worker
    assert "resources = local.worker_chef_parameter_arns" in worker
    assert "*" not in worker.split("ReadChefEnrollment")[1].split("}")[0]
    root = (TF / "main.tf").read_text()
    assert (
        "worker_chef_parameter_names        = var.chef_server_enabled ? "
        "[local.chef_validator_parameter, local.chef_tls_cert_parameter] : []"
    ) in root
    assert "admin-key" not in root
