"""Build the JupyterHub configuration from the settings (see jupyterhub_config.py)."""

from __future__ import annotations

import importlib.util
import sys

from swarmhub.hub import labels
from swarmhub.hub.settings import Settings, load, secret

HUB_PORT = 8081
PROXY_PORT = 8000
PROXY_API_PORT = 8001
STATE_DIR = "/srv/jupyterhub"
NOTEBOOK_HOME = "/home/jovyan"

# Scopes of the tokens the hub hands out, each no wider than its use.
CLI_SCOPES = [
    "admin:users",
    "admin:servers",
    "list:users",
    "read:users",
    "read:servers",
    "access:servers",
    "tokens",
]
AUTOSCALER_SCOPES = ["list:users", "read:users:activity", "read:servers"]
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def configure(c, settings: Settings | None = None) -> None:
    s = settings or load()
    cfg, rt = s.config, s.runtime

    # --- the hub, its database and the proxy it does not own ----------------
    c.JupyterHub.hub_ip = "0.0.0.0"  # noqa: S104 - inside the overlay network only
    c.JupyterHub.hub_port = HUB_PORT
    c.JupyterHub.hub_connect_ip = rt.hub_service
    c.JupyterHub.db_url = f"sqlite:///{STATE_DIR}/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = f"{STATE_DIR}/jupyterhub_cookie_secret"
    # Leave users running when the hub restarts: they are Swarm services.
    c.JupyterHub.cleanup_servers = False
    # The proxy is its own service, so a hub restart keeps every route.
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = f"http://{rt.proxy_service}:{PROXY_API_PORT}"
    c.ConfigurableHTTPProxy.auth_token = secret("swarmhub-proxy-token")
    c.JupyterHub.bind_url = rt.public_url
    c.JupyterHub.authenticate_prometheus = True

    # --- spawning -----------------------------------------------------------
    c.JupyterHub.spawner_class = "swarmhub.hub.spawner.SwarmhubSpawner"
    sp = c.SwarmhubSpawner
    sp.image = rt.notebook_image
    sp.allowed_images = _allowed_images(s)
    sp.network_name = rt.network
    sp.use_internal_ip = True  # reach the server by its service name on the overlay
    # No IPVS routing: DNS round robin, which also keeps quiet websockets alive.
    sp.extra_endpoint_spec = {"mode": "dnsrr"}
    sp.extra_placement_spec = {"constraints": ["node.role==worker"]}
    sp.volumes = {f"{rt.homes_host_dir}/{{username}}": NOTEBOOK_HOME}
    sp.notebook_dir = NOTEBOOK_HOME
    sp.mem_limit = cfg.servers.mem_limit
    sp.mem_guarantee = cfg.servers.mem_reservation
    sp.cpu_limit = cfg.servers.cpu_limit
    sp.cpu_guarantee = cfg.servers.cpu_reservation
    sp.start_timeout = cfg.servers.start_timeout
    sp.http_timeout = 60
    sp.poll_interval = 10
    sp.default_url = "/lab"
    sp.name_template = "jupyter-{username}"
    sp.remove = True
    sp.debug = False

    _auth(c, s)
    _services(c, s)
    _culler(c, s)


def _allowed_images(s: Settings) -> dict[str, str]:
    images = {"default": s.runtime.notebook_image}
    for p in s.config.servers.profiles:
        if p.image:
            images[p.name] = p.image
    return images


def _auth(c, s: Settings) -> None:
    auth = s.config.hub.auth
    c.Authenticator.admin_users = set(auth.admin_users)
    if auth.kind == "shared-password":
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = secret("swarmhub-user-password")
        c.SharedPasswordAuthenticator.admin_password = secret("swarmhub-admin-password")
        # Anyone with the class password may sign in under any name.
        c.Authenticator.allow_all = True
    elif auth.kind == "github":
        gh = auth.github
        c.JupyterHub.authenticator_class = "github"
        c.GitHubOAuthenticator.client_id = gh.client_id
        c.GitHubOAuthenticator.client_secret = secret("swarmhub-github-client-secret")
        c.GitHubOAuthenticator.oauth_callback_url = (
            gh.callback_url or f"{s.runtime.public_url.rstrip('/')}/hub/oauth_callback"
        )
        c.GitHubOAuthenticator.github_url = gh.github_url
        c.GitHubOAuthenticator.github_api = gh.github_api
        c.GitHubOAuthenticator.allowed_organizations = set(gh.allowed_organizations)
        c.GitHubOAuthenticator.allowed_users = set(gh.allowed_users)
        scope = ["read:user"]
        if gh.allowed_organizations:
            scope.append("read:org")
        c.GitHubOAuthenticator.scope = scope


def _services(c, s: Settings) -> None:
    services = [{"name": "swarmhub-cli", "api_token": secret("swarmhub-cli-token")}]
    roles = [{"name": "swarmhub-cli", "scopes": CLI_SCOPES, "services": ["swarmhub-cli"]}]
    if s.config.autoscaler.enabled and importlib.util.find_spec("swarmhub.autoscaler.service"):
        services.append(
            {
                "name": "autoscaler",
                "command": [sys.executable, "-m", "swarmhub.autoscaler.service"],
                "environment": {"SWARMHUB_SETTINGS": "/srv/jupyterhub/settings.json"},
            }
        )
        roles.append(
            {"name": "autoscaler", "scopes": AUTOSCALER_SCOPES, "services": ["autoscaler"]}
        )
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles


def _culler(c, s: Settings) -> None:
    timeout = s.config.servers.idle_timeout
    if not timeout:
        return
    c.JupyterHub.services.append(
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={timeout}",
                f"--cull-every={max(60, timeout // 6)}",
            ],
        }
    )
    c.JupyterHub.load_roles.append(
        {"name": "idle-culler", "scopes": CULLER_SCOPES, "services": ["idle-culler"]}
    )


__all__ = ["configure", "labels"]
