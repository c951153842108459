"""Mixed-AMI upgrades: a server named by image id goes only to nodes baked with it.

During an upgrade workers of the old and the new bake serve side by side
(decision 0010); each engine is labelled with the image ids its AMI holds
(swarmhub-engine-label). The packing (`Ledger.choose(image=...)`) and the
swarm constraint (`image_constraints`) both follow that label; an image
named by tag (the local target) is unconstrained.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from swarmhub.hub import placement
from swarmhub.swarm.state import NodeUsage

GiB = 1024**3
OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "1" * 64


def usage(node_id: str, reserved_gib: int = 0) -> NodeUsage:
    return NodeUsage(
        id=node_id,
        hostname=node_id,
        instance_id=f"i-{node_id}",
        role="worker",
        state="ready",
        availability="active",
        mem_total=16 * GiB,
        cpu_total=4.0,
        mem_reserved=reserved_gib * GiB,
        cpu_reserved=0.0,
        created_at="",
    )


def api_node(node_id: str, *images: str) -> dict:
    labels = {f"{placement.image_label(i)}": "true" for i in images}
    labels["swarmhub.instance-id"] = f"i-{node_id}"
    return {"ID": node_id, "Description": {"Engine": {"Labels": labels}}}


class FakeApi:
    def __init__(self, nodes):
        self._nodes = nodes
        self.calls = 0

    def nodes(self):
        self.calls += 1
        return self._nodes


@pytest.fixture
def fleet(monkeypatch):
    """old-full (old bake, fullest), new-a (new bake, emptier)."""
    snap = [usage("old-full", reserved_gib=12), usage("new-a", reserved_gib=2)]
    monkeypatch.setattr(placement, "snapshot", lambda api: ([replace(n) for n in snap], []))
    return FakeApi([api_node("old-full", OLD), api_node("new-a", NEW)])


def test_the_image_label_and_constraint_are_derived_from_the_id():
    assert placement.image_label(NEW) == "swarmhub.image.sha256-" + "1" * 64
    assert placement.image_constraints(NEW) == [
        "engine.labels.swarmhub.image.sha256-" + "1" * 64 + "==true"
    ]


@pytest.mark.parametrize("image", ["swarmhub/notebook:abc123", "notebook@sha256:" + "1" * 64, ""])
def test_an_image_named_by_tag_is_not_constrained(image):
    assert placement.image_label(image) is None
    assert placement.image_constraints(image) == []
    assert placement.carries({"ID": "n"}, image)


def test_packing_skips_the_fuller_node_of_the_other_bake(fleet):
    ledger = placement.Ledger()
    # Without an image the fullest node that fits wins (the old one) ...
    assert ledger.choose(fleet, "a", GiB, 0.1) == "old-full"
    ledger.release("a")
    # ... with the new bake's image only the new node is a candidate,
    assert placement.Ledger().choose(fleet, "b", GiB, 0.1, NEW) == "new-a"
    # and the old bake's servers keep going to the old one.
    assert placement.Ledger().choose(fleet, "c", GiB, 0.1, OLD) == "old-full"


def test_no_node_with_the_image_is_no_room_not_a_wrong_node(fleet):
    other = "sha256:" + "2" * 64
    assert placement.Ledger().choose(fleet, "d", GiB, 0.1, other) is None


def test_a_node_carrying_both_bakes_images_takes_either(monkeypatch):
    monkeypatch.setattr(placement, "snapshot", lambda api: ([usage("both")], []))
    api = FakeApi([api_node("both", OLD, NEW)])
    assert placement.Ledger().choose(api, "e", GiB, 0.1, OLD) == "both"
    assert placement.Ledger().choose(api, "f", GiB, 0.1, NEW) == "both"


def test_the_node_list_is_read_with_the_snapshot_not_per_spawn(fleet):
    ledger = placement.Ledger(max_age=60)
    for key in "ghij":
        ledger.choose(fleet, key, GiB, 0.1, NEW)
    assert fleet.calls == 1
