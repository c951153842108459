"""Build the JupyterHub configuration from the settings (see jupyterhub_config.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from swarmhub.config.courses import AREA_DIR
from swarmhub.config.courses import utcnow as courses_now
from swarmhub.hub import auth, courses, events, profiles, quota
from swarmhub.hub.settings import Settings, load, secret
from swarmhub.swarm.specs import (
    AUTOSCALER_PORT,
    HOMES_HUB_DIR,
    HUB_PORT,
    NOTEBOOK_HOME,
    PROXY_API_PORT,
    STATE_DIR,
)

ROUTE_CHECK_SECONDS = 30
TEMPLATES = Path(__file__).with_name("templates")

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
# read:users:groups: a waiting student in an exam counts at their limit (guarantee).
AUTOSCALER_SCOPES = ["list:users", "read:users:activity", "read:servers", "read:users:groups"]
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def configure(c, settings: Settings | None = None) -> None:
    s = settings or load()
    cfg, rt = s.config, s.runtime

    # --- the hub, its database and the proxy it does not own ----------------
    c.JupyterHub.hub_ip = "0.0.0.0"  # noqa: S104 - inside the overlay network only
    c.JupyterHub.hub_port = HUB_PORT
    c.JupyterHub.hub_connect_ip = rt.hub_service
    # Servers reach the hub at an address that outlives the hub's container: a
    # new container has a new overlay address, and jupyterhub-singleuser's
    # resolver (aiodns: c-ares caches answers for Docker's 600 s TTL) would keep
    # the old one for ten minutes, failing every request that needs the hub.
    if rt.hub_connect_url:
        c.Spawner.hub_connect_url = rt.hub_connect_url
    c.JupyterHub.db_url = f"sqlite:///{STATE_DIR}/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = f"{STATE_DIR}/jupyterhub_cookie_secret"
    # Leave users running when the hub restarts: they are Swarm services.
    c.JupyterHub.cleanup_servers = False
    # The proxy is its own service, so a hub restart keeps every route.
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = f"http://{rt.proxy_service}:{PROXY_API_PORT}"
    c.ConfigurableHTTPProxy.auth_token = secret("swarmhub-proxy-token")
    c.JupyterHub.bind_url = rt.public_url
    # How often the hub puts back routes the proxy lost (a restarted proxy has
    # none but the hub's own), and collects activity from it.
    c.JupyterHub.last_activity_interval = ROUTE_CHECK_SECONDS
    c.JupyterHub.authenticate_prometheus = True
    # JupyterHub's pages, and ours where they say more (templates/).
    c.JupyterHub.template_paths = [str(TEMPLATES)]

    # --- spawning -----------------------------------------------------------
    c.JupyterHub.spawner_class = "swarmhub.hub.spawner.SwarmhubSpawner"
    sp = c.SwarmhubSpawner
    sp.image = rt.notebook_image
    sp.allowed_images = _allowed_images(s)
    sp.network_name = rt.network
    # The hub and the proxy reach a server at its node's address, on a port the
    # node publishes (SwarmhubSpawner.get_ip_and_port, docs/decisions/0041).
    sp.use_internal_ip = True  # not dockerspawner's published port: the routing mesh
    sp.extra_placement_spec = {"constraints": ["node.role==worker"]}
    # The home is named by the user's real name, as the spawner and the quota see it
    # ({username} is dockerspawner's escaped form: "jane-doe" -> "jane-2ddoe").
    sp.volumes = {f"{rt.homes_host_dir}/{{raw_username}}": NOTEBOOK_HOME}
    sp.notebook_dir = NOTEBOOK_HOME
    sp.mem_limit = cfg.servers.mem_limit
    sp.mem_guarantee = cfg.servers.mem_reservation
    sp.cpu_limit = cfg.servers.cpu_limit
    sp.cpu_guarantee = cfg.servers.cpu_reservation
    sp.start_timeout = cfg.servers.start_timeout
    # From a running task to its HTTP answer. A lone start takes ~2 s, but a
    # node starting a class's servers at once is CPU-bound: a burst of 20 on
    # two cores had its last answer after 61 s. Sized for that, not the lone
    # start; the spawn page says why it waits (SwarmhubSpawner.progress).
    # The default, servers.http_timeout, is 180 s.
    sp.http_timeout = cfg.servers.http_timeout
    sp.poll_interval = 10
    sp.default_url = "/lab"
    sp.name_template = "jupyter-{username}"
    sp.debug = False
    sp.homes_hub_dir = HOMES_HUB_DIR
    # Every mount source lies below the homes and is checked there (mountpaths).
    sp.homes_host_dir = rt.homes_host_dir
    # Staff and admins get instructor tools in JupyterLab; students do not.
    sp.courses = list(cfg.courses)
    # Course areas sit in the homes' storage, in a directory no user can be named.
    sp.courses_host_dir = f"{rt.homes_host_dir}/{AREA_DIR}"
    # Everything the spawner knows comes through its traits, set here.
    sp.quota = cfg.quota
    sp.autoscaling = cfg.autoscaler.enabled
    sp.max_nodes = cfg.autoscaler.max_nodes
    timeout = cfg.servers.idle_timeout
    # The hub's records for `report` tell a culled server from a stopped one.
    events.configure(timeout)
    if timeout:
        # The culler reads each server's last_activity, which jupyterhub-singleuser
        # pushes every JUPYTERHUB_ACTIVITY_INTERVAL (default 300 s): report at least
        # as often as the culler looks, or a short timeout culls working servers.
        sp.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(activity_interval(timeout))}
    _profiles(c, s)
    _quota(c, s)

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
    auth.configure(c, s)


def _services(c, s: Settings) -> None:
    services = [{"name": "swarmhub-cli", "api_token": secret("swarmhub-cli-token")}]
    roles = [{"name": "swarmhub-cli", "scopes": CLI_SCOPES, "services": ["swarmhub-cli"]}]
    if s.config.autoscaler.enabled and importlib.util.find_spec("swarmhub.autoscaler.service"):
        services.append(
            {
                "name": "autoscaler",
                "command": [sys.executable, "-m", "swarmhub.autoscaler.service"],
                # Its metrics: /services/autoscaler/metrics, beside the hub's /hub/metrics.
                "url": f"http://{s.runtime.hub_service}:{AUTOSCALER_PORT}",
                "environment": {"SWARMHUB_SETTINGS": f"{STATE_DIR}/settings.json"},
            }
        )
        roles.append(
            {"name": "autoscaler", "scopes": AUTOSCALER_SCOPES, "services": ["autoscaler"]}
        )
    # Course staff: a role per course that runs, held by its staff group. A course
    # that ends while the hub runs loses its members at their next sign-in or
    # refresh (swarmhub.hub.auth), and the role itself at the next hub start.
    roles += courses.roles(s.config.courses, courses_now())
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
                f"--cull-every={cull_every(timeout)}",
            ],
        }
    )
    c.JupyterHub.load_roles.append(
        {"name": "idle-culler", "scopes": CULLER_SCOPES, "services": ["idle-culler"]}
    )


def cull_every(timeout: int) -> int:
    """How often the culler looks: a sixth of the timeout, at least 15 s."""
    return max(15, timeout // 6)


def activity_interval(timeout: int) -> int:
    """How often a server reports activity: no longer than a culler round, at most 300 s."""
    return max(10, min(300, cull_every(timeout)))


def _profiles(c, s: Settings) -> None:
    """The instructor's profile list: the only images and sizes a user may pick."""
    servers, image = s.config.servers, s.runtime.notebook_image
    choices = profiles.choices(servers, image)
    sp = c.SwarmhubSpawner
    sp.options_from_form = profiles.from_form
    if not s.config.courses:
        sp.options_form = profiles.form(choices)
        sp.apply_user_options = profiles.applier(choices)
        return
    # With courses, each user's list follows their course groups, decided at spawn.
    offer = profiles.Offer(choices, profiles.default_choice(servers, image), s.config.courses)
    sp.options_form = offer.form
    sp.apply_user_options = offer.apply


def _quota(c, s: Settings) -> None:
    """Show a user over the soft limit a warning on the home and spawn pages."""
    if s.config.quota.soft is None and s.config.quota.hard is None:
        return
    notice = quota.notice_for(HOMES_HUB_DIR, s.config.quota)
    c.JupyterHub.template_vars = {"announcement_home": notice, "announcement_spawn": notice}
