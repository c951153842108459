"""The hub on the AWS manager: `python3 -m swarmhub.aws.manager_up`.

Run inside the hub image by the manager's `swarmhub-manager-up` (the worker
AMI's swarmhub-hub.service), after the swarm is up, with the Docker socket
and the state volume mounted. It does what the local target's deploy does
between "swarm" and "wait for the hub", with the same target-neutral code
(swarmhub.swarm.stack's `ensure_*` steps, swarmhub.swarm.secrets, and the
proxy and hub specs of swarmhub.swarm.specs):

    settings.json (target aws) -> overlay network -> Swarm secrets ->
    proxy and hub services

Safe to re-run: every step checks before it acts, and a failed run removes
what it made. Generated secrets live on the state volume (0700/0600), so a
replacement manager reuses them; the GitHub client secret comes on stdin
from SSM and goes straight into a Swarm secret.

With a domain, the proxy serves the Let's Encrypt certificate the boot got
(copied into the hub state's tls/, the files `hub.https: self-signed` serves)
on port 443; without one, plain HTTP on port 80.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from swarmhub.config import Config, parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.hub import tls
from swarmhub.hub.settings import Runtime, render
from swarmhub.run import echo, write_atomic
from swarmhub.swarm import secrets, stack
from swarmhub.swarm import specs as services

# What the placeholder of every SSM parameter starts with (terraform/modules/secrets).
PLACEHOLDER_PREFIX = "unset:"


@dataclass(frozen=True)
class Manager:
    """Facts of this manager, from manager.env and the baked images.env."""

    state_dir: Path  # the state volume's mount point (same path in this container)
    homes_host_dir: str  # <EFS mount>/home, as every node sees it
    public_url: str
    domain: str  # "" without one
    asg_name: str
    region: str
    hub_image: str  # image ids (sha256:...), so no node ever pulls them
    notebook_image: str
    # The manager's fixed private address (its role's interface), where user
    # servers reach the hub's API port published there (decision 0008).
    private_address: str = ""

    @property
    def hub_state(self) -> Path:
        return self.state_dir / "hub"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"


# --------------------------------------------------------------------------- pure


def hub_settings_config(cfg: Config, m: Manager) -> Config:
    """The config the hub runs with: with a domain, its proxy serves the certificate
    in tls/ (what `hub.https: self-signed` means to the proxy), made by Let's Encrypt."""
    https = "self-signed" if m.domain else "off"
    return cfg.model_copy(update={"hub": cfg.hub.model_copy(update={"https": https})})


def runtime(m: Manager) -> Runtime:
    return Runtime(
        target="aws",
        network=services.NETWORK,
        hub_service=services.HUB,
        proxy_service=services.PROXY,
        notebook_image=m.notebook_image,
        hub_image=m.hub_image,
        homes_host_dir=m.homes_host_dir,
        public_url=m.public_url,
        asg_name=m.asg_name,
        hub_connect_url=(
            f"http://{m.private_address}:{services.HUB_PORT}" if m.private_address else ""
        ),
    )


def supplied_secrets(cfg: Config, github_secret: str) -> dict[str, str]:
    """The operator's secrets this config needs; one clear error if one is missing."""
    if cfg.hub.auth.kind != "github":
        return {}
    value = github_secret.strip()
    if not value or value.startswith(PLACEHOLDER_PREFIX):
        raise SwarmhubError(
            "hub.auth.kind is github but the GitHub client secret is not in SSM yet",
            hint="aws ssm put-parameter --overwrite ... (docs/aws.md); the manager picks "
            "it up within 5 minutes (swarmhub-hub-sync.timer)",
        )
    return {secrets.GITHUB_CLIENT_SECRET: value}


def service_specs(m: Manager, settings_text: str, cfg: Config) -> tuple[dict, dict]:
    """The proxy and hub specs on this manager (see swarmhub.swarm.specs)."""
    proxy_env = {}
    # The proxy reads its certificate at start: a renewed one, a new task.
    cert = tls.paths(m.hub_state)[1]
    if m.domain and cert.exists():
        proxy_env["SWARMHUB_TLS_HASH"] = hashlib.sha256(cert.read_bytes()).hexdigest()[:16]
    proxy, hub = services.specs(
        image=m.hub_image,
        hub_state=m.hub_state,
        homes=m.homes_host_dir,
        settings_text=settings_text,
        # On the role's interface (the hub security group).
        port=443 if m.domain else 80,
        hub_secrets=secrets.hub_secrets(cfg),
        env={"AWS_DEFAULT_REGION": m.region},
        proxy_env=proxy_env,
    )
    return proxy, with_role_credentials(hub)


# Where the host's swarmhub-aws-credentials writes the manager role's
# credentials, and where the hub sees them (decision 0014).
CREDENTIALS_DIR = "/run/swarmhub/aws"
CREDENTIALS_MOUNT = "/etc/swarmhub/aws"


def with_role_credentials(hub: dict) -> dict:
    """The hub (its autoscaler) reads the manager role's credentials from the
    host's file, read-only, through credential_process: IMDS answers one hop
    only, so no container, the internet-facing proxy included, reaches it."""
    return {
        **hub,
        "mounts": [*hub["mounts"], f"{CREDENTIALS_DIR}:{CREDENTIALS_MOUNT}:ro"],
        "env": {
            **hub["env"],
            "AWS_CONFIG_FILE": f"{CREDENTIALS_MOUNT}/config",
            # No 1 s IMDS probe that cannot answer from here.
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    }


# --------------------------------------------------------------------------- files


def write_if_changed(path: Path, data: bytes, mode: int = 0o644) -> bool:
    return write_atomic(path, data, mode)


def install_certificate(m: Manager) -> None:
    """Let's Encrypt's current certificate and key into the hub state's tls/."""
    live = m.state_dir / "letsencrypt" / "live" / m.domain
    key, cert = tls.paths(m.hub_state)
    try:
        chain = (live / "fullchain.pem").read_bytes()
        private = (live / "privkey.pem").read_bytes()
    except FileNotFoundError:
        raise SwarmhubError(
            f"no Let's Encrypt certificate for {m.domain} in {live}",
            hint="see certbot's output in the manager's boot log (journalctl -u cloud-final)",
        ) from None
    key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_if_changed(key, private, 0o600)
    write_if_changed(cert, chain, 0o644)


def write_settings(cfg: Config, m: Manager) -> str:
    text = render(hub_settings_config(cfg, m), runtime(m)) + "\n"
    m.hub_state.mkdir(parents=True, exist_ok=True)
    if write_if_changed(m.hub_state / "settings.json", text.encode()):
        echo(f"wrote {m.hub_state / 'settings.json'}")
    return text


# --------------------------------------------------------------------------- act


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def rotate_changed(client, m: Manager, supplied: dict[str, str]) -> list[str]:
    """Swarm secrets cannot change in place: for each operator secret whose value
    differs from the one the Swarm secret was made with (its fingerprint is kept
    next to the generated secrets, 0600), remove the hub service that mounts it
    and the secret, so the steps after make both anew. Returns what was rotated."""
    rotated = []
    for name, value in supplied.items():
        record = m.secrets_dir / f"{name}.sha256"
        try:
            known = record.read_text().strip()
        except FileNotFoundError:
            known = ""
        exists = client.secrets.list(filters={"name": name})
        if not exists or known == fingerprint(value):
            continue
        echo(f"{name} changed in SSM: replacing the Swarm secret and the hub service")
        for service in client.services.list(filters={"name": services.HUB}):
            if service.name == services.HUB:
                service.remove()
                stack.wait_gone(client, services.HUB)
        for secret in exists:
            if secret.name == name:
                secret.remove()
        rotated.append(name)
    return rotated


def record_supplied(m: Manager, supplied: dict[str, str]) -> None:
    for name, value in supplied.items():
        write_if_changed(
            m.secrets_dir / f"{name}.sha256", f"{fingerprint(value)}\n".encode(), 0o600
        )


def up(cfg: Config, m: Manager, github_secret: str, client) -> None:
    """Settings, network, secrets, proxy and hub; a failed run removes what it made.

    Run at boot and every 5 minutes (swarmhub-hub-sync.timer): an operator
    secret changed in SSM replaces its Swarm secret and the hub service."""
    supplied = supplied_secrets(cfg, github_secret)  # before anything is made
    if m.domain:
        install_certificate(m)
    made: list[tuple[str, str]] = []
    try:
        values = {**secrets.ensure(m.secrets_dir, cfg), **supplied}
        rotate_changed(client, m, supplied)
        stack.ensure_network(client, cfg.swarm.overlay_subnet, made)
        for name, value in values.items():
            stack.ensure_secret(client, name, value, made)
        record_supplied(m, supplied)
        text = write_settings(cfg, m)
        for spec in service_specs(m, text, cfg):
            stack.ensure_service(client, spec, made)
    except BaseException:
        stack.rollback(client, made)
        raise


def image_id(client, ref: str) -> str:
    """The id of a pre-loaded image: a service naming it never pulls."""
    import docker.errors

    try:
        return client.images.get(ref).id
    except docker.errors.ImageNotFound:
        raise SwarmhubError(
            f"image {ref} is not in this node's engine", hint="is it baked into the AMI?"
        ) from None


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--state-dir", required=True, type=click.Path(file_okay=False))
@click.option("--homes-host-dir", required=True)
@click.option("--public-url", required=True)
@click.option("--domain", default="")
@click.option("--asg-name", required=True)
@click.option("--region", envvar="AWS_DEFAULT_REGION", required=True)
@click.option("--hub-image", required=True)
@click.option("--notebook-image", required=True)
@click.option("--private-address", default="", help="The manager's fixed private address.")
@click.option("--github-secret-stdin", is_flag=True, help="Read the GitHub client secret on stdin.")
def main(
    config_path: str,
    state_dir: str,
    homes_host_dir: str,
    public_url: str,
    domain: str,
    asg_name: str,
    region: str,
    hub_image: str,
    notebook_image: str,
    private_address: str,
    github_secret_stdin: bool,
) -> None:
    """Bring up the hub's settings, network, secrets and services on this manager."""
    import docker

    github_secret = sys.stdin.read() if github_secret_stdin else ""
    try:
        cfg = parse_config(json.loads(Path(config_path).read_text()), config_path)
        client = docker.from_env()
        m = Manager(
            state_dir=Path(state_dir),
            homes_host_dir=homes_host_dir,
            public_url=public_url,
            domain=domain,
            asg_name=asg_name,
            region=region,
            hub_image=image_id(client, hub_image),
            notebook_image=image_id(client, notebook_image),
            private_address=private_address,
        )
        up(cfg, m, github_secret, client)
    except SwarmhubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
