"""Our AMIs in EC2, and the state file that tells deploy which to use.

The state file (`<aws.ami.work_dir>/amis.json`, by default `.work/aws/amis.json`)
is how bake hands its result to deploy (swarmhub.aws.deploy.load_amis):

    {
      "worker": {
        "ami_id": "ami-0123456789abcdef0",
        "region": "eu-west-1",
        "name": "swarmhub-worker-20261125-184000-3f2a9c1d0b4e",
        "input_hash": "<sha256 of the image's inputs>",
        "git_revision": "<commit>[-dirty]",
        "policy_revision": "<Policyfile revision id, or local-...>",
        "built": true,              # false: found already built, not rebuilt
        "recorded_at": "2026-11-25T18:52:10Z"
      },
      "chef-server": {...}
    }

An entry for another region than the config's is ignored (that AMI does not
exist here). Every AWS call needs credentials: `aws_session` checks them first so
a missing one is one clear line, before anything else happens.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmhub.errors import SwarmhubError
from swarmhub.run import echo

IMAGE_NAMES = ("worker", "chef-server")

# Tags every AMI the bake registers carries (packer/image.pkr.hcl).
TAG_IMAGE = "swarmhub:image"
TAG_DEPLOYMENT = "swarmhub:deployment"
TAG_INPUT_HASH = "swarmhub:input-hash"


def aws_session(cfg):
    """A boto3 session for cfg.aws.region with working credentials, and the account id.

    Raises SwarmhubError before any other call when no credentials are found
    or STS rejects them.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = cfg.aws.region
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise SwarmhubError(
            "no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or run in CI with an OIDC role",
        )
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise SwarmhubError(f"AWS credentials were rejected: {exc}") from None
    return session, identity["Account"]


def work_dir(cfg) -> Path:
    return Path(cfg.aws.ami.work_dir)


def state_path(cfg) -> Path:
    return work_dir(cfg) / "amis.json"


def _read_document(cfg) -> dict[str, Any]:
    path = state_path(cfg)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SwarmhubError(
            f"{path}: unreadable AMI state: {exc}", hint="delete it and run bake again"
        ) from None
    if not isinstance(doc, dict):
        raise SwarmhubError(f"{path}: the AMI state must be a mapping of image names")
    return doc


def read_ami_state(cfg) -> dict[str, dict[str, Any]]:
    """The recorded images in cfg's region: {"worker": {"ami_id": ...}, ...}.

    Empty when nothing was baked (or only for another region); deploy should
    then say "run `pipeline.py bake --target aws` first".
    """
    return {
        image: entry
        for image, entry in _read_document(cfg).items()
        if isinstance(entry, dict) and entry.get("region") == cfg.aws.region
    }


def record_image(cfg, image: str, entry: dict[str, Any], *, now: datetime | None = None) -> Path:
    """Record `image`'s AMI in the state file (atomically: deploy never reads half a file)."""
    doc = _read_document(cfg)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc[image] = {**entry, "region": cfg.aws.region, "recorded_at": stamp}
    path = state_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def _age(ami: dict) -> tuple[str, str]:
    # CreationDate has one-second resolution; our names carry the build time,
    # so they break a tie the same way.
    return ami.get("CreationDate", ""), ami.get("Name", "")


def find_by_hash(ec2, cfg, image: str, input_hash: str) -> dict | None:
    """Our newest available AMI of `image` built from exactly these inputs, if any."""
    images = ec2.describe_images(
        Owners=["self"],
        Filters=[
            {"Name": f"tag:{TAG_IMAGE}", "Values": [image]},
            {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [cfg.aws.name_prefix]},
            {"Name": f"tag:{TAG_INPUT_HASH}", "Values": [input_hash]},
            {"Name": "state", "Values": ["available"]},
        ],
    )["Images"]
    return max(images, key=_age, default=None)


def list_images(ec2, cfg, image: str) -> list[dict]:
    """Our AMIs of `image` in this region, newest first."""
    images = ec2.describe_images(
        Owners=["self"],
        Filters=[
            {"Name": f"tag:{TAG_IMAGE}", "Values": [image]},
            {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [cfg.aws.name_prefix]},
        ],
    )["Images"]
    return sorted(images, key=_age, reverse=True)


def snapshot_ids(ami: dict) -> list[str]:
    return [
        m["Ebs"]["SnapshotId"]
        for m in ami.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]


def deregister(ec2, ami: dict) -> None:
    """Deregister an AMI, then delete its snapshots (they cannot go while it is registered)."""
    ec2.deregister_image(ImageId=ami["ImageId"])
    for snapshot in snapshot_ids(ami):
        ec2.delete_snapshot(SnapshotId=snapshot)
    echo(f"  deregistered {ami['ImageId']} and deleted {len(snapshot_ids(ami))} snapshot(s)")
