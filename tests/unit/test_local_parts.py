"""Pieces of the local target that need no engine: hashes, secrets, quotas, packing."""

from __future__ import annotations

import os
import stat

import pytest

from swarmhub.capacity import choose_node
from swarmhub.config import QuotaConfig, parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.hub import quota
from swarmhub.local import engine, images
from swarmhub.swarm import secrets
from swarmhub.swarm.state import NodeUsage

GiB = 1024**3


def test_image_hash_follows_inputs(monkeypatch, tmp_path):
    cfg = parse_config({}, "x")
    hub, notebook = images.image_hash(cfg, "hub"), images.image_hash(cfg, "notebook")
    assert hub != notebook and len(hub) == 12
    assert images.image_hash(cfg, "hub") == hub  # stable
    # A different base suite changes every image.
    other = parse_config({"images": {"debian_suite": "trixie"}}, "x")
    assert images.image_hash(other, "notebook") != notebook
    # A changed pin changes the notebook, not the hub... except the hub carries
    # the package source, which holds the pins: both move.
    monkeypatch.setattr(images.versions, "NOTEBOOK_PACKAGES", ("jupyterlab==0.0.1",))
    assert images.image_hash(cfg, "notebook") != notebook
    assert images.tag(cfg, "hub") == f"swarmhub/hub:{hub}"


def test_secrets_are_generated_once_and_private(tmp_path):
    d = tmp_path / "secrets"
    first = secrets.ensure(d)
    assert set(first) == set(secrets.GENERATED)
    assert len(first["swarmhub-admin-password"]) >= 32  # JupyterHub's minimum
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for name in first:
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o600
    assert secrets.ensure(d) == first  # never regenerated


def test_not_root_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SwarmhubError, match="must run as root"):
        engine.ensure_engine()


def test_no_engine_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(engine, "is_up", lambda socket=engine.SOCKET: False)
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.raises(SwarmhubError, match="not installed.*install-deps"):
        engine.ensure_engine()


def _node(id, reserved, total=8 * GiB, ready=True, cpu_reserved=0.0):
    return NodeUsage(
        id=id, hostname=id, instance_id=id, role="worker",
        state="ready" if ready else "down", availability="active",
        mem_total=total, cpu_total=4, mem_reserved=reserved, cpu_reserved=cpu_reserved,
    )  # fmt: skip


def test_packing_picks_the_fullest_node_that_fits():
    nodes = [_node("a", 1 * GiB), _node("b", 6 * GiB), _node("c", 7 * GiB + 1)]
    assert choose_node(nodes, 1 * GiB, 0.5) == "b"  # c is fuller but has no room
    assert choose_node(nodes, 7 * GiB, 0.5) == "a"
    assert choose_node(nodes, 9 * GiB, 0.5) is None
    assert choose_node([_node("d", 6 * GiB, ready=False)], 1 * GiB, 0.5) is None
    assert choose_node([_node("e", 0, cpu_reserved=3.8)], 1 * GiB, 0.5) is None


def test_quota_verdicts(tmp_path):
    home = tmp_path / "homes" / "ada"
    home.mkdir(parents=True)
    (home / "data.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    assert quota.check(str(home), QuotaConfig()) is None
    ok = quota.check(str(home), QuotaConfig(soft="10M", hard="20M"))
    assert not ok.over_soft and not ok.over_hard
    soft = quota.check(str(home), QuotaConfig(soft="1M", hard="20M"), max_age=0)
    assert soft.over_soft and not soft.over_hard and "warning level" in soft.message
    hard = quota.check(str(home), QuotaConfig(soft="1M", hard="2M"), max_age=0)
    assert hard.over_hard and "delete at least 1" in hard.message
    # The measurement is cached beside the homes, not inside the user's home.
    assert (tmp_path / "homes" / ".swarmhub-usage" / "ada.json").exists()
    assert not any(p.name.endswith(".json") for p in home.iterdir())


def test_concurrent_placements_do_not_pile_onto_one_node(monkeypatch):
    """Three spawns see the same snapshot at once; two fit a node: the third goes elsewhere."""
    from swarmhub.hub import placement

    snap = [_node("a", 0, total=8 * GiB), _node("b", 0, total=8 * GiB)]

    def fresh_snapshot(api):
        return [NodeUsage(**vars(n)) for n in snap], []

    monkeypatch.setattr(placement, "snapshot", fresh_snapshot)
    ledger = placement.Ledger()
    chosen = [ledger.choose(None, f"s{i}", 4 * GiB, 0.1) for i in range(3)]
    assert chosen[0] == chosen[1]  # packed together
    assert chosen[2] != chosen[0]  # not pinned where it cannot fit
    assert ledger.choose(None, "s3", 4 * GiB, 0.1) == chosen[2]
    assert ledger.choose(None, "s4", 4 * GiB, 0.1) is None  # full: the swarm decides
    ledger.release("s0")
    assert ledger.choose(None, "s5", 4 * GiB, 0.1) == chosen[0]


def test_spawns_waiting_for_room_share_a_snapshot_and_see_released_room(monkeypatch):
    """Waiting spawns ask every second: one swarm read serves them, a release
    forces a fresh read, and asking again does not hold room twice."""
    from swarmhub.hub import placement

    snap = [_node("a", 0, total=8 * GiB)]
    reads = []

    def counting_snapshot(api):
        reads.append(1)
        return [NodeUsage(**vars(n)) for n in snap], []

    monkeypatch.setattr(placement, "snapshot", counting_snapshot)
    ledger = placement.Ledger(max_age=60)
    assert ledger.choose(None, "s0", 4 * GiB, 0.1) == "a"
    assert ledger.choose(None, "s1", 4 * GiB, 0.1) == "a"
    for _ in range(5):  # a third waits; its retries reuse the snapshot
        assert ledger.choose(None, "s2", 4 * GiB, 0.1) is None
    assert len(reads) == 1
    # s0's server is now running: the swarm counts it and the ledger lets go.
    snap[0].mem_reserved = 4 * GiB
    ledger.release("s0")
    assert ledger.choose(None, "s2", 4 * GiB, 0.1) is None  # s1 still holds the rest
    assert len(reads) == 2
    # s0 stops: its room comes back on the next read.
    snap[0].mem_reserved = 0
    ledger.release("s1")
    assert ledger.choose(None, "s2", 4 * GiB, 0.1) == "a"
    assert ledger.choose(None, "s3", 4 * GiB, 0.1) == "a"  # a now has no room left
    # Asking again under the same key gives up the old hold first: still room.
    assert ledger.choose(None, "s3", 4 * GiB, 0.1) == "a"
    assert ledger.choose(None, "s4", 4 * GiB, 0.1) is None


class _RacyNodeApi:
    """A manager's node API where someone else updates the node once, between
    our read and our write (what the lifecycle handler and the autoscaler can do)."""

    def __init__(self, races: int):
        self.races = races
        self.spec = {"Role": "worker", "Availability": "active", "Labels": {"a": "b"}}
        self.version = 10
        self.writes = 0

    def inspect_node(self, node_id):
        return {"ID": node_id, "Version": {"Index": self.version}, "Spec": dict(self.spec)}

    def update_node(self, node_id, version, spec):
        import docker.errors

        self.writes += 1
        if self.races:
            self.races -= 1
            self.version += 1
            raise docker.errors.APIError("rpc error: update out of sequence")
        assert version == self.version, "wrote with a stale version"
        self.spec = spec
        self.version += 1


def test_set_availability_rereads_after_a_concurrent_update_and_keeps_the_spec():
    from swarmhub.swarm.nodes import set_availability

    api = _RacyNodeApi(races=1)
    set_availability(api, "n1", "drain")
    assert api.spec == {"Role": "worker", "Availability": "drain", "Labels": {"a": "b"}}
    assert api.writes == 2
    set_availability(api, "n1", "drain")  # already drained: no write at all
    assert api.writes == 2


def test_set_availability_gives_up_after_repeated_races():
    import docker.errors

    from swarmhub.swarm.nodes import set_availability

    api = _RacyNodeApi(races=5)
    with pytest.raises(docker.errors.APIError, match="out of sequence"):
        set_availability(api, "n1", "pause")
    assert api.spec["Availability"] == "active"
