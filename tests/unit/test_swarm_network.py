"""swarm.network: does the overlay subnet hold the densest fleet the config allows."""

from __future__ import annotations

from swarmhub.config import parse_config
from swarmhub.hub import profiles
from swarmhub.swarm.network import (
    addresses_needed,
    overlay_problem,
    servers_per_node,
    usable_addresses,
)

GiB = 2**30
M6I_XLARGE = (16 * GiB, 4.0)


def _sizes(config: dict) -> list[tuple[int, float]]:
    """Reservations of every profile a config offers, as the hub resolves them."""
    cfg = parse_config(config, "test.yaml")
    return [(c.mem_reservation, c.cpu_reservation) for c in profiles.choices(cfg.servers, "nb")]


def test_a_node_fills_on_whichever_runs_out_first():
    assert servers_per_node(16 * GiB, 4.0, [(GiB, 0.25)]) == 16
    assert servers_per_node(16 * GiB, 4.0, [(GiB, 0.5)]) == 8  # CPU first
    assert servers_per_node(16 * GiB, 4.0, [(4 * GiB, 0.1)]) == 4  # memory first
    # The densest profile decides: 0.1 CPU and 512M fill a node 32 deep.
    assert servers_per_node(16 * GiB, 4.0, [(4 * GiB, 1.0), (GiB // 2, 0.1)]) == 32


def test_the_default_subnet_holds_a_big_fleet_of_default_servers():
    sizes = _sizes({})  # 1G and 0.25 CPU: 16 to an m6i.xlarge
    assert usable_addresses("10.214.0.0/20") == 4093
    assert overlay_problem("10.214.0.0/20", 200, *M6I_XLARGE, sizes) is None
    assert addresses_needed(200, 16) == 200 * 17 + 16 <= 4093


def test_a_subnet_too_small_for_the_densest_profile_is_refused_with_its_numbers():
    big = {"name": "big", "display_name": "Big", "mem_limit": "8G", "mem_reservation": "4G"}
    tiny = {"name": "tiny", "display_name": "Tiny", "mem_limit": "1G", "cpu_limit": 1}
    tiny |= {"mem_reservation": "256M", "cpu_reservation": 0.05}
    sizes = _sizes({"servers": {"profiles": [big, tiny]}})
    line = overlay_problem("10.214.0.0/20", 100, *M6I_XLARGE, sizes)
    # tiny: 16G / 256M = 64, 4 / 0.05 = 80 -> 64 a node; 100 x 65 + 16 = 6,516.
    assert line == (
        "10.214.0.0/20 holds 4,093 addresses, but max_nodes 100 full 16G/4-CPU nodes at "
        "the densest profile need 6,516 (100 x (64 servers + 1 node endpoint) + 16 for "
        "the hub's services): widen it to a /19 or lower max_nodes to 62"
    )
    # What the line proposes does fit.
    assert overlay_problem("10.214.0.0/19", 100, *M6I_XLARGE, sizes) is None
    assert overlay_problem("10.214.0.0/20", 62, *M6I_XLARGE, sizes) is None
    assert overlay_problem("10.214.0.0/20", 63, *M6I_XLARGE, sizes) is not None
