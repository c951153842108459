"""The hub and notebook images on their way into the worker AMI, with no registry.

By default (`aws.ami.hub_image` / `notebook_image` left at their defaults)
the AMI carries the images the local bake built on this machine: their tags
come from the local bake's record (images.json in `local.state_dir`), their
ids from this machine's engine. The bake `docker save`s each into
`<work_dir>/worker/images/<name>.tar`, Packer's `file` provisioner uploads
the folder, and the cookbook checks each archive's SHA-256, `docker load`s
it and checks the loaded id (swarmhub_worker::images). The ids go into the
input hash (a new local bake is a new AMI) and into the AMI manifest; the
manager checks them again at boot (swarmhub-manager-up).

An operator who names images of their own registry in those two settings
gets the old path instead: the build instance pulls them (decision 0011).

Every docker call goes through `_docker`, the one subprocess boundary here
(tests replace just that function). See
docs/decisions/0011-container-images-reach-the-ami-without-a-registry.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from swarmhub.config.ami import AmiConfig
from swarmhub.errors import SwarmhubError
from swarmhub.run import echo, run

# The order the cookbook and images.env expect: [notebook, hub].
NAMES = ("notebook", "hub")
# Where the archives land on the build instance (packer/image.pkr.hcl's remote_dir).
REMOTE_DIR = "/tmp/swarmhub/images"
MANIFEST = "images.json"


@dataclass(frozen=True)
class ContainerImage:
    name: str  # notebook or hub
    ref: str  # the tag the hub names it by
    image_id: str  # sha256:... ("" for a registry image: known once pulled)
    local: bool  # True: from the local bake, by archive; False: pulled from ref's registry

    @property
    def archive(self) -> str:
        return f"{self.name}.tar"


def _docker(argv: Sequence[str], *, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run one docker command (the only subprocess boundary of this module)."""
    return run(["docker", *argv], capture=capture, quiet=capture)


def from_local_bake(ami: AmiConfig, key: str) -> bool:
    """An image setting left at its default names no registry image: take the local bake's."""
    return getattr(ami, key) == AmiConfig.model_fields[key].default


def _local_record(cfg) -> tuple[dict, Path]:
    from swarmhub.local.paths import paths

    record = paths(cfg).images_file
    try:
        return json.loads(record.read_text()), record
    except FileNotFoundError:
        return {}, record
    except (OSError, ValueError) as exc:
        raise SwarmhubError(
            f"{record}: unreadable record of the local bake: {exc}",
            hint="run: python pipeline.py bake --target local",
        ) from None


def image_id(ref: str) -> str | None:
    """The id of `ref` in this machine's engine; None when it is not there."""
    try:
        out = _docker(["image", "inspect", "--format", "{{.Id}}", ref], capture=True)
    except SwarmhubError:
        return None
    value = out.stdout.strip()
    return value if value.startswith("sha256:") else None


def resolve(cfg) -> list[ContainerImage]:
    """The two images of the worker AMI, [notebook, hub]. Asks only the local
    engine, never AWS; one line naming what to do when an image is missing."""
    ami = cfg.aws.ami
    record, record_path = None, None
    out = []
    for name in NAMES:
        key = f"{name}_image"
        if not from_local_bake(ami, key):
            out.append(ContainerImage(name, getattr(ami, key), "", local=False))
            continue
        if record is None:
            record, record_path = _local_record(cfg)
        ref = record.get(name)
        if not ref:
            raise SwarmhubError(
                f"no local bake of the {name} image is recorded in {record_path}: "
                "the worker AMI carries the local bake's images",
                hint=f"run: python pipeline.py bake --target local, or set aws.ami.{key} "
                "to an image in a registry of yours",
            )
        found = image_id(ref)
        if found is None:
            raise SwarmhubError(
                f"the local bake's {name} image {ref} is not in this machine's Docker engine",
                hint=f"run: python pipeline.py bake --target local, or set aws.ami.{key} "
                "to an image in a registry of yours",
            )
        out.append(ContainerImage(name, ref, found, local=True))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(images: Sequence[ContainerImage], folder: Path) -> list[dict]:
    """`docker save` each local image into `folder` (unless the archive there is
    already of that id) and write the folder's images.json; returns its entries.

    The archive is written beside and renamed, so a half-written one is never
    taken for a whole one. Archives of images no longer wanted are removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    wanted = {MANIFEST}
    previous = _read_manifest(folder)
    for image in images:
        if not image.local:
            continue
        archive = folder / image.archive
        wanted.add(image.archive)
        known = previous.get(image.name, {})
        if archive.exists() and known.get("id") == image.image_id and known.get("sha256"):
            digest = known["sha256"]
            echo(f"  {image.ref}: {archive} is of {image.image_id[:19]}, kept")
        else:
            partial = folder / f".{image.archive}.partial"
            partial.unlink(missing_ok=True)
            echo(f"  docker save {image.ref} -> {archive} (takes a minute per GB)")
            try:
                _docker(["save", "--output", str(partial), image.ref])
            except SwarmhubError:
                partial.unlink(missing_ok=True)
                raise
            # The archive is of what was saved: the id must not have moved meanwhile.
            if image_id(image.ref) != image.image_id:
                partial.unlink(missing_ok=True)
                raise SwarmhubError(
                    f"{image.ref} changed while it was saved",
                    hint="re-run the bake once the local bake has finished",
                )
            digest = _sha256(partial)
            os.replace(partial, archive)
        entries.append(
            {
                "name": image.name,
                "ref": image.ref,
                "id": image.image_id,
                "file": f"{REMOTE_DIR}/{image.archive}",
                "sha256": digest,
            }
        )
    (folder / MANIFEST).write_text(
        json.dumps({e["name"]: e for e in entries}, indent=2, sort_keys=True) + "\n"
    )
    for stale in folder.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    return entries


def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
