"""The AWS fleet Terraform launches (the `aws.fleet` section).

Everything here is rendered into the Terraform variables file by
swarmhub.aws.deploy; nothing here is a secret (the GitHub OAuth client secret
and the swarm join token live in SSM Parameter Store, see terraform/modules/secrets).
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator, model_validator

from swarmhub.config.types import Strict

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class BackendConfig(Strict):
    """Where Terraform keeps its state: an S3 bucket (made once by the operator),
    locked by an S3 lock file or a DynamoDB table (both work with the
    Terraform >= 1.11 deploy needs; DynamoDB locking is deprecated upstream)."""

    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    key: str = "swarmhub/terraform.tfstate"
    # Default: the fleet's own region.
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    # "lockfile" (S3-native) or "dynamodb:<table>".
    lock: str = Field(default="lockfile", pattern=r"^(lockfile|dynamodb:[A-Za-z0-9_.-]{3,255})$")


class FleetConfig(Strict):
    worker_instance_type: str = "m6i.xlarge"
    manager_instance_type: str = "t3.large"
    chef_server_instance_type: str = "t3.large"
    min_workers: int = Field(default=1, ge=0)
    max_workers: int = Field(default=10, ge=1)
    # Stopped, pre-initialised workers kept ready; 0 disables the warm pool.
    warm_pool_size: int = Field(default=0, ge=0)
    worker_volume_size: int = Field(default=50, ge=20, description="GiB")
    manager_state_volume_size: int = Field(default=20, ge=5, description="GiB")
    # The hub's DNS name; with it the hub serves HTTPS with a Let's Encrypt certificate.
    domain: str | None = None
    # With it Terraform creates the domain's A record; without, point it yourself.
    route53_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,32}$")
    # Let's Encrypt's contact for the certificate of `domain` (needs domain).
    letsencrypt_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # Who may reach the hub on 80/443 (e.g. a campus range).
    hub_ingress_cidrs: list[str] = ["0.0.0.0/0"]
    # An existing VPC, with its subnets one per AZ; unset: a VPC is created.
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    public_subnet_ids: list[str] = []
    private_subnet_ids: list[str] = []
    vpc_cidr: str = "10.40.0.0/16"
    az_count: int = Field(default=2, ge=2, le=6)
    chef_server: bool = True
    # terraform or tofu; unset: the first of terraform, tofu found on PATH.
    terraform_binary: str | None = None
    backend: BackendConfig = BackendConfig()
    # How long deploy waits for the hub to answer on its URL.
    hub_wait_seconds: int = Field(default=900, ge=0)
    # Extra tags on every resource (e.g. a cost centre).
    tags: dict[str, str] = {}

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError(f"'{value}' is not a DNS name such as hub.example.org")
        return value

    @field_validator("hub_ingress_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.IPv4Network(cidr)
            except ValueError as exc:
                raise ValueError(f"'{cidr}' is not an IPv4 CIDR") from exc
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not an IPv4 CIDR") from exc
        if not net.is_private or net.prefixlen > 20:
            raise ValueError(f"'{value}' must be a private range of /20 or larger")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FleetConfig:
        if self.min_workers > self.max_workers:
            raise ValueError("min_workers must not exceed max_workers")
        if self.vpc_id is not None:
            if len(self.private_subnet_ids) < 2 or not self.public_subnet_ids:
                raise ValueError(
                    "with vpc_id, give private_subnet_ids (one per AZ, at least two) "
                    "and public_subnet_ids"
                )
        elif self.public_subnet_ids or self.private_subnet_ids:
            raise ValueError("public_subnet_ids/private_subnet_ids need vpc_id")
        if self.route53_zone_id is not None and self.domain is None:
            raise ValueError("route53_zone_id needs domain")
        if self.warm_pool_size > self.max_workers:
            raise ValueError(
                f"warm_pool_size is above max_workers ({self.max_workers}); a warm pool beyond "
                "what the group may run is never used: lower it"
            )
        if self.letsencrypt_email is not None and self.domain is None:
            raise ValueError(
                "letsencrypt_email needs domain: the certificate is for the hub's DNS name; "
                "set aws.fleet.domain, or remove letsencrypt_email"
            )
        return self
