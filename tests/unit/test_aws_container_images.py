"""The local bake's images reach the worker AMI as archives, with no registry.

The bake runs for real against moto with packer and docker replaced at their
one boundary each (`packer._packer`, `container_images._docker`): what the
cookbook gets (attributes.json), what Packer uploads (the archive folder) and
what the AMI's record holds (amis.json) are the real code's output.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from swarmhub.aws import amis, bake, container_images, packer
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from tests.unit.test_aws_bake import ACCOUNT, NOW, REGION, FakePacker, aws_env, ec2  # noqa: F401

HUB = "swarmhub/hub:0123456789ab"
NOTEBOOK = "swarmhub/notebook:ba9876543210"
IDS = {HUB: "sha256:" + "1" * 64, NOTEBOOK: "sha256:" + "2" * 64}


def local_cfg(tmp_path: Path, record: dict | None = None, **ami):
    fake_packer = tmp_path / "packer"
    fake_packer.write_text("#!/bin/sh\nexit 99\n")
    fake_packer.chmod(0o755)
    state = tmp_path / "local-state"
    state.mkdir(exist_ok=True)
    if record is not None:
        (state / "images.json").write_text(json.dumps(record))
    return parse_config(
        {
            "local": {"state_dir": str(state), "homes_dir": str(tmp_path / "homes")},
            "aws": {
                "region": REGION,
                "fleet": {"chef_server": False},
                "ami": {
                    "base_ami_owner": ACCOUNT,
                    "base_ami_name": "ubuntu-noble-24.04-amd64-server-*",
                    "work_dir": str(tmp_path / "work"),
                    "packer_binary": str(fake_packer),
                    **ami,
                },
            },
        },
        "test.yaml",
    )


class FakeDocker:
    """`docker image inspect` answers from `ids`; `docker save` writes a small archive."""

    def __init__(self, ids: dict[str, str]):
        self.ids = dict(ids)
        self.calls: list[list[str]] = []

    def __call__(self, argv, *, capture=False):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if argv[:2] == ["image", "inspect"]:
            ref = argv[-1]
            if ref not in self.ids:
                raise SwarmhubError(f"command failed (exit 1): docker image inspect {ref}")
            return subprocess.CompletedProcess(argv, 0, self.ids[ref] + "\n", "")
        if argv[0] == "save":
            Path(argv[2]).write_bytes(f"archive of {argv[3]} {self.ids[argv[3]]}".encode())
            return subprocess.CompletedProcess(argv, 0, "", "")
        raise AssertionError(f"unexpected docker {argv}")

    def saves(self):
        return [c[-1] for c in self.calls if c[0] == "save"]


RECORD = {"hub": HUB, "notebook": NOTEBOOK}


def no_aws(*args, **kwargs):
    raise AssertionError("an AWS call before the refusal")


@pytest.mark.parametrize(
    ("record", "ids", "message"),
    [
        (None, {}, "no local bake of the notebook image is recorded in "),
        ({"notebook": NOTEBOOK}, IDS, "no local bake of the hub image is recorded in "),
        (RECORD, {NOTEBOOK: IDS[NOTEBOOK]}, f"the local bake's hub image {HUB} is not in this"),
    ],
)
def test_missing_local_images_are_refused_before_any_aws_call(
    tmp_path, monkeypatch, record, ids, message
):
    monkeypatch.setattr(bake.amis, "aws_session", no_aws)
    monkeypatch.setattr(container_images, "_docker", FakeDocker(ids))
    with pytest.raises(SwarmhubError, match=re.escape(message)) as err:
        bake.bake(local_cfg(tmp_path, record), only="worker", now=NOW)
    text = str(err.value)
    assert "\n" not in text
    assert "python pipeline.py bake --target local" in text and "aws.ami." in text
    assert not (tmp_path / "work").exists(), "nothing half-made"


def test_the_chef_server_alone_needs_no_local_images(tmp_path, monkeypatch):
    docker = FakeDocker({})
    monkeypatch.setattr(container_images, "_docker", docker)

    class ReachedAws(Exception):
        pass

    def reached(*args, **kwargs):
        raise ReachedAws

    monkeypatch.setattr(bake.amis, "aws_session", reached)
    cfg = local_cfg(tmp_path, None, chef_server_package_sha256="ab" * 32)
    with pytest.raises(ReachedAws):
        bake.bake(cfg, only="chef-server", now=NOW)
    assert docker.calls == []


def test_the_local_bakes_images_go_by_archive_and_are_recorded(ec2, tmp_path, monkeypatch):  # noqa: F811
    docker = FakeDocker(IDS)
    monkeypatch.setattr(container_images, "_docker", docker)
    fake = FakePacker(ec2)
    monkeypatch.setattr(packer, "_packer", fake)
    cfg = local_cfg(tmp_path, RECORD)

    bake.bake(cfg, only="worker", now=NOW)

    work = tmp_path / "work" / "worker"
    folder = work / "images"
    assert docker.saves() == [NOTEBOOK, HUB]
    assert sorted(p.name for p in folder.iterdir()) == ["hub.tar", "images.json", "notebook.tar"]
    attrs = json.loads((work / "attributes.json").read_text())["swarmhub"]["images"]
    assert attrs["preload"] == [], "nothing is pulled"
    assert (attrs["hub"], attrs["notebook"]) == (HUB, NOTEBOOK)
    by_name = {a["name"]: a for a in attrs["archives"]}
    for name, ref in (("hub", HUB), ("notebook", NOTEBOOK)):
        archive = by_name[name]
        digest = hashlib.sha256((folder / f"{name}.tar").read_bytes()).hexdigest()
        assert archive == {
            "name": name,
            "ref": ref,
            "id": IDS[ref],
            "file": f"/tmp/swarmhub/images/{name}.tar",
            "sha256": digest,
        }
    assert json.loads((folder / "images.json").read_text()) == by_name
    pkrvars = json.loads((work / "worker.pkrvars.json").read_text())
    assert pkrvars["container_archive_dir"] == str(folder.resolve())
    assert pkrvars["container_image_ids"] == IDS
    assert pkrvars["container_images"] == [NOTEBOOK, HUB]
    state = amis.read_ami_state(cfg)["worker"]
    assert state["container_images"] == {"hub": IDS[HUB], "notebook": IDS[NOTEBOOK]}


def test_a_new_local_bake_is_a_new_ami_and_an_unchanged_archive_is_not_saved_again(
    ec2,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    docker = FakeDocker(IDS)
    monkeypatch.setattr(container_images, "_docker", docker)
    monkeypatch.setattr(packer, "_packer", FakePacker(ec2))
    cfg = local_cfg(tmp_path, RECORD)
    bake.bake(cfg, only="worker", now=NOW)
    first = amis.read_ami_state(cfg)["worker"]

    # Same images: the AMI with this hash is found, nothing is saved.
    docker.calls.clear()
    bake.bake(cfg, only="worker", now=NOW)
    assert docker.saves() == []
    assert amis.read_ami_state(cfg)["worker"]["ami_id"] == first["ami_id"]

    # A new notebook image under the same tag: a new hash, only it is saved again.
    docker.ids[NOTEBOOK] = "sha256:" + "3" * 64
    docker.calls.clear()
    bake.bake(cfg, only="worker", now=NOW)
    second = amis.read_ami_state(cfg)["worker"]
    assert second["input_hash"] != first["input_hash"]
    assert second["ami_id"] != first["ami_id"]
    assert docker.saves() == [NOTEBOOK]


def test_an_image_that_moves_while_saved_leaves_no_archive(tmp_path, monkeypatch):
    class Moving(FakeDocker):
        def __call__(self, argv, *, capture=False):
            result = super().__call__(argv, capture=capture)
            if argv[0] == "save":
                self.ids[argv[3]] = "sha256:" + "9" * 64
            return result

    monkeypatch.setattr(container_images, "_docker", Moving(IDS))
    images = [container_images.ContainerImage("hub", HUB, IDS[HUB], local=True)]
    with pytest.raises(SwarmhubError, match="changed while it was saved"):
        container_images.save(images, tmp_path / "images")
    assert list((tmp_path / "images").iterdir()) == []


def test_registry_images_are_pulled_not_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(container_images, "_docker", FakeDocker({}))
    cfg = local_cfg(
        tmp_path,
        None,
        hub_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/hub:1",
        notebook_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/notebook:1",
    )
    images = container_images.resolve(cfg)
    assert [i.local for i in images] == [False, False]
    attrs = bake.attributes(cfg, bake.IMAGES["worker"], images)["swarmhub"]["images"]
    assert attrs["preload"] == [i.ref for i in images]
