"""Every key of swarmhub.yaml, generated from the model: type, default, unit, one sentence.

    python -m swarmhub.config.reference > docs/config-reference.md

The sentence is the comment written above the field in its section's source
(the same words a reader of the code sees), or the field's description, or,
for fields whose source carries no comment, the line in `SENTENCES` below.
tests/unit/test_config_reference.py fails when the doc falls behind the model.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from swarmhub.config import Config

# Fields whose source has no comment to quote.
SENTENCES = {
    "hub": "The hub: its port, HTTPS and sign-in.",
    "hub.auth": "Who may sign in, and who is an admin.",
    "servers": "Each user's server: reservations, limits, timeouts and profiles.",
    "quota": "Disk use per home, measured by the hub.",
    "images": "The container images the local bake builds.",
    "autoscaler": "When nodes are added and removed.",
    "lifecycle": "The lifecycle handler: draining and removing nodes on AWS.",
    "swarm": "The swarm itself, the same on every target.",
    "local": "The local target: the whole system on this machine.",
    "aws": "The AWS target; present, --target aws becomes the default.",
    "aws.region": "The AWS region of the fleet, e.g. eu-central-1.",
    "aws.name_prefix": "Prefix of every AWS resource's name.",
    "aws.ami": "Baking the AMIs with Packer.",
    "aws.fleet": "The fleet Terraform launches.",
    "aws.ami.instance_type": "Instance type of the Packer build instance.",
    "aws.ami.base_ami_name": "Name filter of the Ubuntu base AMI.",
    "aws.ami.deprecate_after_days": "A baked AMI is marked deprecated after this many days.",
    "aws.ami.cinc_version": "Cinc Client version installed into the worker AMI.",
    "aws.ami.cinc_deb_url": "Where the Cinc Client .deb is downloaded from.",
    "aws.ami.cinc_deb_sha256": "SHA-256 the Cinc Client .deb is checked against.",
    "aws.ami.chef_server_flavor": "Which Chef Server the chef-server AMI runs.",
    "aws.ami.chef_server_package_url": "Where the Chef/Cinc Server package is downloaded from.",
    "aws.ami.chef_server_package_sha256": "SHA-256 of that package; the bake refuses it unset.",
    "aws.ami.chef_organization": "The Chef Server organisation the nodes enrol in.",
    "aws.ami.chef_admin_user": "The Chef Server's admin user.",
    "aws.fleet.worker_instance_type": "Instance type of the workers.",
    "aws.fleet.manager_instance_type": "Instance type of the manager (hub, swarm manager).",
    "aws.fleet.chef_server_instance_type": "Instance type of the Chef Server.",
    "aws.fleet.min_workers": "The worker group's minimum size.",
    "aws.fleet.max_workers": "The worker group's maximum size (autoscaler.max_nodes at most).",
    "aws.fleet.worker_volume_size": "Root volume of a worker.",
    "aws.fleet.manager_state_volume_size": "The manager's state volume (swarm and hub state).",
    "aws.fleet.public_subnet_ids": "With vpc_id: the public subnets, one per AZ.",
    "aws.fleet.private_subnet_ids": "With vpc_id: the private subnets, one per AZ.",
    "aws.fleet.vpc_cidr": "The created VPC's range (private, /20 or larger).",
    "aws.fleet.az_count": "Availability zones the created VPC spans.",
    "aws.fleet.chef_server": "Launch a Chef Server and enrol the nodes.",
    "aws.fleet.backend": "Where Terraform keeps its state.",
    "aws.fleet.backend.bucket": "The S3 bucket of the Terraform state (made once by you).",
    "aws.fleet.backend.key": "The state's object name in that bucket.",
    "lifecycle.enabled": "Run the lifecycle handler.",
    "aws.ami.hub_image": "The hub image pre-loaded into the worker AMI: by default the "
    "local bake's, carried by archive; or a registry image of yours, by tag or digest.",
    "aws.fleet.letsencrypt_email": "Who Let's Encrypt writes to about the hub's certificate.",
    "local.node_subnet": "One bridge, one subnet for all local nodes.",
    "name": "Names the deployment: swarm labels, AWS resources.",
}
UNITS = {"seconds", "GiB", "CPUs", "URL"}


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    unit: str
    sentence: str


@cache
def _comments(cls: type) -> dict[str, str]:
    """field -> the comment block written right above it in the class body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            block = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#"):
                block.insert(0, lines[i].strip().lstrip("#").strip())
                i -= 1
            if block:
                out[node.target.id] = " ".join(block)
    return out


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _type(annotation, metadata) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = " or ".join(_type(a, metadata) for a in rest)
        return f"{inner}, optional" if len(rest) < len(args) else inner
    if origin is typing.Annotated:
        return _type(args[0], list(metadata) + list(args[1:]))
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        if _models(args[0]):
            return "list of mappings (keys below)"
        return f"list of {_type(args[0], [])}"
    if origin is dict:
        return f"mapping of {_type(args[0], [])} to {_type(args[1], [])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if any(
        getattr(m, "func", None) and "size" in getattr(m.func, "__name__", "") for m in metadata
    ):
        return "size"
    return {str: "text", int: "whole number", float: "number", bool: "true/false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _default(info) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "(its keys' defaults)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}`"
    return f"`{value}`"


def rows(model: type[BaseModel] = Config, prefix: str = "") -> list[Row]:
    out = []
    comments = {}
    # A section may extend another (a course's window is a busy window): its own
    # comments win, the base's fill in the fields it inherits.
    for base in reversed(model.__mro__):
        if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
            comments.update(_comments(base))
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        kind = _type(info.annotation, info.metadata)
        unit = info.description if info.description in UNITS else ""
        if kind.startswith("size"):
            unit = "K/M/G/T"
        described = info.description if info.description and info.description not in UNITS else ""
        sentence = comments.get(name) or described or SENTENCES.get(key.replace("[]", ""), "")
        out.append(Row(key, kind, _default(info), unit, sentence))
        for inner in _models(info.annotation):
            many = typing.get_origin(info.annotation) is list
            out.extend(rows(inner, f"{key}{'[]' if many else ''}."))
    return out


def render() -> str:
    head = [
        "# swarmhub.yaml: every key",
        "",
        "Generated from the config model by `python -m swarmhub.config.reference >",
        "docs/config-reference.md`; `tests/unit/test_config_reference.py` fails when it",
        "is out of date. Every key is optional unless its default says *required*;",
        "unknown keys are an error. Sizes need a unit (K/M/G/T, binary). Quote times",
        "(`'14:00'`). `python pipeline.py validate` checks a file against all of this.",
        "",
    ]
    body = []
    section = None
    for row in rows():
        top = row.key.split(".")[0].split("[")[0]
        if top != section:
            section = top
            body += [
                "",
                f"## `{top}`",
                "",
                "| key | type | default | unit | what it is |",
                "| --- | --- | --- | --- | --- |",
            ]
        sentence = row.sentence.replace("|", "\\|")
        body.append(f"| `{row.key}` | {row.type} | {row.default} | {row.unit} | {sentence} |")
    return "\n".join(head + body[1:]) + "\n"


if __name__ == "__main__":
    print(render(), end="")
