"""`pipeline.py prune --target aws`: deregister old AMIs and delete their snapshots.

Per image, the `keep` newest of ours stay; an older one goes only if nothing
uses it: not the $Latest or $Default version of any launch template in the
region, not a live instance, not the state file deploy reads. `dry_run`
lists what would go and changes nothing.
"""

from __future__ import annotations

from swarmhub.aws import amis
from swarmhub.run import echo

# Instances in these states still need their AMI (a stopped one restarts from it).
_LIVE = ["pending", "running", "stopping", "stopped"]


def in_use(ec2, cfg) -> dict[str, str]:
    """AMI id -> what uses it."""
    used: dict[str, str] = {}
    for page in ec2.get_paginator("describe_launch_templates").paginate():
        for template in page["LaunchTemplates"]:
            versions = ec2.describe_launch_template_versions(
                LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Latest", "$Default"]
            )["LaunchTemplateVersions"]
            for version in versions:
                image = version.get("LaunchTemplateData", {}).get("ImageId", "")
                if image.startswith("ami-"):
                    used[image] = f"launch template {template['LaunchTemplateName']}"
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": _LIVE}]
    ):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                used.setdefault(instance["ImageId"], f"instance {instance['InstanceId']}")
    for image, entry in amis.read_ami_state(cfg).items():
        used.setdefault(entry["ami_id"], f"{amis.state_path(cfg)} ({image})")
    return used


def prune(cfg, keep: int, dry_run: bool = False) -> list[str]:
    """Deregister our AMIs beyond the `keep` newest per image; returns the ids (to be) removed."""
    session, _account = amis.aws_session(cfg)
    ec2 = session.client("ec2")
    used = in_use(ec2, cfg)
    removed: list[str] = []
    for image in amis.IMAGE_NAMES:
        found = amis.list_images(ec2, cfg, image)
        echo(f"[{image}] {len(found)} AMI(s), keeping the {keep} newest")
        for ami in found[keep:]:
            ami_id = ami["ImageId"]
            if ami_id in used:
                echo(f"  keeping {ami_id}: used by {used[ami_id]}")
                continue
            removed.append(ami_id)
            if dry_run:
                snapshots = ", ".join(amis.snapshot_ids(ami)) or "no snapshots"
                echo(f"  would deregister {ami_id} ({ami.get('Name', '')}) and delete {snapshots}")
            else:
                amis.deregister(ec2, ami)
    verb = "would remove" if dry_run else "removed"
    echo(f"prune: {verb} {len(removed)} AMI(s)")
    return removed
