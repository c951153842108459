"""The box's first scenario: an instance moto launches really boots.

An Auto Scaling group launches from a launch template whose user-data is a
shell script; the box boots a machine for the instance (systemd as PID 1),
cloud-init fetches the user-data from the box's metadata service with an
IMDSv2 token and runs it, and the marker it writes (the instance id it read
from the metadata service) is on the machine's disk. Scaling the group in
makes moto terminate the instance and the box powers the machine off.
User-data over EC2's 16,384-byte limit is never booted.

Needs root, systemd-nspawn and debootstrap (the first run builds the image,
~5 min; later runs find it in /var/cache/swarmhub-box).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import box.__main__ as cli
from box import controller, machine
from tests.aws_box.conftest import ami, client, group_instance, network, running, wait, worker_group

pytestmark = pytest.mark.integration

MARKER = "var/lib/box-marker"
USER_DATA = """#!/bin/sh
set -eu
token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
  http://169.254.169.254/latest/api/token)
curl -sf -H "X-aws-ec2-metadata-token: $token" \
  http://169.254.169.254/latest/meta-data/instance-id > /var/lib/box-marker.tmp
mv /var/lib/box-marker.tmp /var/lib/box-marker
"""

# An image made of the machine's own /bin/sh (no registry in the box), run by its dockerd.
ENGINE_CHECK = """
docker info --format '{{.Driver}}'
tar -C / -ch bin/sh lib/x86_64-linux-gnu/libc.so.6 lib64/ld-linux-x86-64.so.2 \\
  | docker import - mini >/dev/null
docker run --rm mini /bin/sh -c 'echo container-ran'
docker swarm init --advertise-addr "$(hostname -I | cut -d' ' -f1)" >/dev/null
docker info --format '{{.Swarm.LocalNodeState}}'
"""


def test_an_asg_instance_boots_runs_its_user_data_and_stops_on_scale_in(endpoint):
    ec2, asg = client("ec2", endpoint), client("autoscaling", endpoint)
    subnet = network(ec2)
    worker_group(ec2, asg, subnet, "box-workers", USER_DATA, 1)
    instance_id = group_instance(asg, "box-workers")

    entry = running(instance_id)
    assert entry["systemd"] in ("running", "degraded")
    marker = machine.STATE / instance_id / "upper" / MARKER
    seen = wait("cloud-init ran the user-data", lambda: marker.exists() and marker.read_text(), 120)
    assert seen == instance_id

    # The machine can be a swarm node: its own dockerd runs containers and inits a swarm.
    m = machine.Machine(instance_id, entry["private_ip"], 24, "", Path(entry["dir"]), entry["pid"])
    engine = machine.inside(m, ["sh", "-ec", ENGINE_CHECK], timeout=120)
    assert engine.returncode == 0, engine.stderr
    assert engine.stdout.split() == ["overlay2", "container-ran", "active"]

    asg.update_auto_scaling_group(AutoScalingGroupName="box-workers", MinSize=0, DesiredCapacity=0)
    wait(
        "the machine stops after scale-in",
        lambda: cli.status().get(instance_id, {}).get("state") == "stopped",
        120,
    )
    assert not machine.alive(entry["pid"])


def test_user_data_over_ec2s_limit_is_not_booted_and_says_so(endpoint):
    ec2 = client("ec2", endpoint)
    subnet = network(ec2)
    big = "#!/bin/sh\n" + "#" * 16384 + "\n"
    reservation = ec2.run_instances(
        ImageId=ami(ec2), MinCount=1, MaxCount=1, SubnetId=subnet, UserData=big
    )
    instance_id = reservation["Instances"][0]["InstanceId"]

    entry = wait(
        "the box refuses the instance",
        lambda: (s := cli.status().get(instance_id, {})).get("state") == "refused" and s,
        60,
    )
    assert "16395 bytes" in entry["reason"]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
    assert {t["Key"] for t in tags} >= {controller.REFUSED_TAG}
    assert not (machine.STATE / instance_id).exists()
    ec2.terminate_instances(InstanceIds=[instance_id])
