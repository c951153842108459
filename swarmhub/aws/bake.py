"""`pipeline.py bake --target aws`: the worker and chef-server AMIs, rebuilt only on change.

Per image: resolve the base AMI, hash every input (the cookbooks it
converges, packer/, images/<name>/, the join script, the config values that
go into it, the base AMI id); if an AMI of ours carries that hash, record it
and build nothing. Otherwise render the inputs into files under
`<aws.ami.work_dir>/<image>/` (policy archive, attributes.json,
<image>.pkrvars.json), then run packer and record the AMI from its manifest
in the state file deploy reads (swarmhub.aws.amis, `read_ami_state`).

Runs from a source checkout: packer/, cookbooks/ and images/ are not part of
the Python package.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from swarmhub.aws import amis, container_images, packer
from swarmhub.aws.amis import read_ami_state
from swarmhub.config.ami import CHEF_SERVER_UNPINNED
from swarmhub.errors import SwarmhubError
from swarmhub.run import echo, run

REPO = Path(__file__).resolve().parents[2]
COOKBOOKS = REPO / "cookbooks"
JOIN_SCRIPT = REPO / "swarmhub" / "node" / "swarm-join.sh"
# Left out of the hash and of the staged cookbooks: made by tools, not inputs.
_IGNORED = {"__pycache__", ".kitchen", "Policyfile.lock.json", ".DS_Store"}

__all__ = ["bake", "read_ami_state", "IMAGES"]


@dataclass(frozen=True)
class ImageSpec:
    """What one AMI is made of. `staged` maps a path inside the staged
    cookbooks to the repository file copied there (one file, one truth)."""

    name: str
    policy: str
    cookbooks: tuple[str, ...]
    staged: dict[str, Path] = field(default_factory=dict)

    @property
    def image_dir(self) -> Path:
        return REPO / "images" / self.name


IMAGES = {
    "worker": ImageSpec(
        name="worker",
        policy="swarmhub_worker",
        cookbooks=("swarmhub_common", "swarmhub_worker"),
        # The cookbook installs the very join script the local target runs.
        staged={"swarmhub_worker/files/swarm-join.sh": JOIN_SCRIPT},
    ),
    "chef-server": ImageSpec(
        name="chef-server",
        policy="swarmhub_chef_server",
        cookbooks=("swarmhub_common", "swarmhub_chef_server"),
    ),
}


@dataclass(frozen=True)
class BaseAmi:
    image_id: str
    name: str


# --- the inputs of an image ---------------------------------------------------


def selected(cfg, only: str | None) -> list[ImageSpec]:
    if only is not None:
        return [IMAGES[only]]
    return [IMAGES["worker"]] + ([IMAGES["chef-server"]] if cfg.aws.fleet.chef_server else [])


def attributes(
    cfg, spec: ImageSpec, images: list[container_images.ContainerImage] | None = None
) -> dict[str, Any]:
    """Cookbook attributes from the config (the converge's attributes.json, minus any
    run list and the archives' SHA-256, which `_build` adds once they are saved)."""
    ami = cfg.aws.ami
    if spec.name == "worker":
        images = images if images is not None else _registry_images(cfg)
        by_name = {i.name: i for i in images}
        return {
            "swarmhub": {
                "images": {
                    # Pulled from the operator's registry; the local bake's come by archive.
                    "preload": [i.ref for i in images if not i.local],
                    "hub": by_name["hub"].ref,
                    "notebook": by_name["notebook"].ref,
                }
            }
        }
    flavor = ami.chef_server_flavor
    return {
        "swarmhub": {
            "chef_server": {
                "flavor": flavor,
                "packages": {
                    flavor: {
                        "url": ami.chef_server_package_url,
                        "sha256": ami.chef_server_package_sha256 or "",
                    }
                },
                "organization": ami.chef_organization,
                "admin_user": ami.chef_admin_user,
                "ssm_prefix": f"/{cfg.aws.name_prefix}/chef-server",
            }
        }
    }


def _registry_images(cfg) -> list[container_images.ContainerImage]:
    """The configured refs as they stand, asking no engine (for render-only callers)."""
    ami = cfg.aws.ami
    return [
        container_images.ContainerImage(
            name,
            getattr(ami, f"{name}_image"),
            "",
            local=container_images.from_local_bake(ami, f"{name}_image"),
        )
        for name in container_images.NAMES
    ]


def image_inputs(
    cfg,
    spec: ImageSpec,
    base: BaseAmi,
    images: list[container_images.ContainerImage] | None = None,
) -> dict[str, Any]:
    """Every config value that shapes the image (hashed, and rendered for packer).
    The local bake's image ids are inputs: a new local bake is a new AMI."""
    ami = cfg.aws.ami
    worker = spec.name == "worker"
    images = (images if images is not None else _registry_images(cfg)) if worker else []
    return {
        "region": cfg.aws.region,
        "name_prefix": cfg.aws.name_prefix,
        "instance_type": ami.instance_type,
        "base_ami_owner": ami.base_ami_owner,
        # The exact name resolved now: a new Canonical release is a new input.
        "base_ami_name": base.name,
        "base_ami_id": base.image_id,
        "kms_key_id": ami.kms_key_id or "",
        "iam_instance_profile": ami.build_instance_profile or "",
        "cinc_version": ami.cinc_version,
        "cinc_deb_url": ami.cinc_deb_url,
        "cinc_deb_sha256": ami.cinc_deb_sha256,
        "container_images": [i.ref for i in images],
        "container_image_ids": {i.ref: i.image_id for i in images if i.local},
        "attributes": attributes(cfg, spec, images if worker else None),
    }


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not _IGNORED.intersection(path.relative_to(root).parts):
            yield path


def input_files(spec: ImageSpec) -> dict[str, Path]:
    """Every file the image is made from, by a stable name."""
    files: dict[str, Path] = {}
    for root in [REPO / "packer", spec.image_dir] + [COOKBOOKS / c for c in spec.cookbooks]:
        for path in _walk(root):
            files[str(path.relative_to(REPO))] = path
    for name, source in spec.staged.items():
        files[f"cookbooks/{name}"] = source
    return files


def input_hash(files: dict[str, Path], inputs: dict[str, Any]) -> str:
    """sha256 over the files' names, contents and exec bits, then the config inputs."""
    digest = hashlib.sha256()
    for name in sorted(files):
        path = files[name]
        mode = "x" if path.stat().st_mode & 0o111 else "-"
        digest.update(f"{name}\0{mode}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps(inputs, sort_keys=True).encode())
    return digest.hexdigest()


# --- rendering ------------------------------------------------------------------


def stage_cookbooks(spec: ImageSpec, dest: Path) -> Path:
    """Copy the image's cookbooks to `dest`, staged files included; returns the role cookbook."""
    if dest.exists():
        shutil.rmtree(dest)
    for cookbook in spec.cookbooks:
        shutil.copytree(
            COOKBOOKS / cookbook, dest / cookbook, ignore=shutil.ignore_patterns(*_IGNORED)
        )
    for name, source in spec.staged.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest / spec.policy


# The local-mode twin of what `cinc export` writes at the archive's root.
_LOCAL_CONFIG = """\
# Written by swarmhub's bake when no cinc-workstation is installed: the local-mode
# twin of a `cinc export` archive. chef-zero serves the cookbooks next to this
# directory; the run list comes with the JSON attributes.
local_mode true
chef_repo_path File.expand_path('..', __dir__)
cookbook_path [File.expand_path('../cookbooks', __dir__)]
"""


def _deterministic_tgz(entries: dict[str, bytes | Path], out: Path) -> str:
    """A .tgz with fixed mtimes and owners, so the same inputs give the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            source = entries[name]
            data = source.read_bytes() if isinstance(source, Path) else source
            info = tarfile.TarInfo(name)
            info.size = len(data)
            executable = isinstance(source, Path) and source.stat().st_mode & 0o111
            info.mode = 0o755 if executable else 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    out.write_bytes(packed.getvalue())
    return hashlib.sha256(packed.getvalue()).hexdigest()


def export_policy(spec: ImageSpec, work: Path) -> tuple[Path, str, bool]:
    """The policy archive for packer's `file` provisioner: (path, revision, is_policyfile).

    With cinc-workstation (or Chef Workstation) installed: `cinc install` and
    `cinc export --archive` of the role's Policyfile. Without: a tarball of
    the same cookbooks with a local-mode .chef/config.rb (see
    docs/decisions/0003-cinc-local-mode-from-a-shell-provisioner.md).
    """
    stage = work / "cookbooks"
    role = stage_cookbooks(spec, stage)
    out = work / "policy"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tool = shutil.which("cinc") or shutil.which("chef")
    if tool:
        run([tool, "install", "Policyfile.rb"], cwd=role)
        run([tool, "export", "Policyfile.rb", str(out), "--archive", "--force"], cwd=role)
        revision = json.loads((role / "Policyfile.lock.json").read_text())["revision_id"]
        archives = sorted(out.glob("*.tgz"))
        if len(archives) != 1:
            raise SwarmhubError(f"{tool} export left {len(archives)} archives in {out}, want 1")
        return archives[0], revision, True
    entries: dict[str, bytes | Path] = {".chef/config.rb": _LOCAL_CONFIG.encode()}
    for path in _walk(stage):
        entries[f"cookbooks/{path.relative_to(stage)}"] = path
    archive = out / f"{spec.policy}-local.tgz"
    digest = _deterministic_tgz(entries, archive)
    return archive, f"local-{digest[:20]}", False


def render_pkrvars(
    spec: ImageSpec,
    inputs: dict[str, Any],
    *,
    digest: str,
    git_revision: str,
    policy_revision: str,
    policy_archive: Path,
    attributes_file: Path,
    manifest_path: Path,
    container_archive_dir: Path,
    deprecate_after_days: int,
    now: datetime,
) -> dict[str, Any]:
    """The per-build Packer variables (the image's own data is in images/<name>/)."""
    values = {k: v for k, v in inputs.items() if k not in ("attributes", "base_ami_id")}
    return {
        **values,
        "ami_name": f"{inputs['name_prefix']}-{spec.name}-{now:%Y%m%d-%H%M%S}-{digest[:12]}",
        "deprecate_at": (now + timedelta(days=deprecate_after_days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input_hash": digest,
        "git_revision": git_revision,
        "policy_revision": policy_revision,
        "policy_archive": str(policy_archive.resolve()),
        "attributes_file": str(attributes_file.resolve()),
        "manifest_path": str(manifest_path.resolve()),
        "container_archive_dir": str(container_archive_dir.resolve()),
        "image_checks": str((spec.image_dir / "checks.sh").resolve()),
    }


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


# --- AWS and git lookups ----------------------------------------------------------


def resolve_base_ami(ec2, owner: str, name: str) -> BaseAmi:
    """The newest AMI of `owner` matching `name`: the lookup packer's source_ami_filter
    repeats with the exact name found here (the name pattern already pins
    architecture and volume type)."""
    images = ec2.describe_images(
        Owners=[owner],
        Filters=[
            {"Name": "name", "Values": [name]},
            {"Name": "state", "Values": ["available"]},
        ],
    )["Images"]
    if not images:
        raise SwarmhubError(
            f"no base AMI of owner {owner} matches {name!r}",
            hint="check aws.ami.base_ami_name and aws.region",
        )
    newest = max(images, key=lambda i: (i.get("CreationDate", ""), i.get("Name", "")))
    return BaseAmi(newest["ImageId"], newest["Name"])


def git_revision() -> str:
    """The checkout's commit, with -dirty when it has uncommitted changes; 'unknown' outside git."""
    try:
        head = run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture=True, quiet=True)
        status = run(["git", "-C", str(REPO), "status", "--porcelain"], capture=True, quiet=True)
    except SwarmhubError:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


# --- the bake ----------------------------------------------------------------------


def _build(
    cfg,
    ec2,
    spec: ImageSpec,
    inputs: dict[str, Any],
    digest: str,
    now: datetime,
    images: list[container_images.ContainerImage],
) -> dict:
    """Render, then run packer; returns the state entry. Leaves no AMI behind on failure."""
    ami = cfg.aws.ami
    tag = f"[{spec.name}]"
    if spec.name == "chef-server" and not ami.chef_server_package_sha256:
        raise SwarmhubError(CHEF_SERVER_UNPINNED, hint=ami.chef_server_unpinned_hint())
    work = amis.work_dir(cfg) / spec.name
    echo(f"{tag} step 3/6: exporting the {spec.policy} policy")
    archive, revision, policyfile = export_policy(spec, work)
    attrs = attributes(cfg, spec, images if spec.name == "worker" else None)
    # The local bake's images, by archive (none for the chef-server: the folder
    # then holds only its empty images.json, for the one `file` provisioner).
    archive_dir = work / "images"
    wanted = images if spec.name == "worker" else []
    if any(i.local for i in wanted):
        echo(f"{tag} step 3/6: saving the local bake's images into {archive_dir}")
    archives = container_images.save(wanted, archive_dir)
    if spec.name == "worker":
        attrs["swarmhub"]["images"]["archives"] = archives
    if not policyfile:
        # A Policyfile export carries its run list; the local-mode twin takes it here.
        attrs = {**attrs, "run_list": [f"recipe[{spec.policy}::default]"]}
    attributes_file = _write_json(work / "attributes.json", attrs)
    manifest = work / "packer-manifest.json"
    # One run per manifest: the artifact read back is this build's or none.
    manifest.unlink(missing_ok=True)
    pkrvars = _write_json(
        work / f"{spec.name}.pkrvars.json",
        render_pkrvars(
            spec,
            inputs,
            digest=digest,
            git_revision=git_revision(),
            policy_revision=revision,
            policy_archive=archive,
            attributes_file=attributes_file,
            manifest_path=manifest,
            container_archive_dir=archive_dir,
            deprecate_after_days=ami.deprecate_after_days,
            now=now,
        ),
    )
    echo(f"{tag} step 4/6: rendered {pkrvars} (read it before the build if in doubt)")

    binary = packer.find(cfg)
    version = packer.check_version(binary)
    var_files = [spec.image_dir / "image.pkrvars.hcl", pkrvars]
    echo(f"{tag} step 5/6: packer {version} init, validate, build (takes 10-20 min)")
    packer.init(binary)
    packer.validate(binary, var_files)
    try:
        packer.build(binary, var_files)
    except SwarmhubError as exc:
        # Packer cleans up after itself; an artifact in the manifest means the
        # AMI was registered before a later step failed: take it back.
        made = packer.read_manifest(manifest, cfg.aws.region)
        if made:
            echo(f"{tag} the build failed after registering {made['ami_id']}: deregistering it")
            registered = ec2.describe_images(ImageIds=[made["ami_id"]])["Images"]
            for image in registered:
                amis.deregister(ec2, image)
        raise SwarmhubError(f"{tag} packer build failed, no AMI kept: {exc}") from None
    made = packer.read_manifest(manifest, cfg.aws.region)
    if made is None:
        raise SwarmhubError(f"{tag} packer finished but {manifest} names no AMI")
    return {
        "ami_id": made["ami_id"],
        "name": pkrvars_value(pkrvars, "ami_name"),
        "input_hash": digest,
        "git_revision": made["custom_data"].get("git_revision", ""),
        "policy_revision": revision,
        "container_images": {i.name: i.image_id for i in wanted if i.local},
        "built": True,
    }


def pkrvars_value(path: Path, key: str) -> Any:
    return json.loads(path.read_text())[key]


# A Docker Hub namespace this project does not own: a pull of it bakes
# whatever a stranger pushed there into an image that runs with the Docker
# socket and the manager's role.
_UNOWNED_IMAGE_PREFIX = "swarmhub/"


def refuse_unpinned(cfg, specs: list[ImageSpec]) -> None:
    """One line naming the value to set, before any AWS call, for what the bake
    cannot verify: the Chef Server package's SHA-256, or images it would pull
    from a registry we do not own."""
    ami = cfg.aws.ami
    names = {spec.name for spec in specs}
    if "chef-server" in names and not ami.chef_server_package_sha256:
        # The same line `validate` gives (AwsConfig.refusals).
        raise SwarmhubError(CHEF_SERVER_UNPINNED, hint=ami.chef_server_unpinned_hint())
    if "worker" in names:
        for key in ("notebook_image", "hub_image"):
            ref = getattr(ami, key)
            # The default names no registry: the local bake's image goes by archive.
            if not container_images.from_local_bake(ami, key) and ref.startswith(
                _UNOWNED_IMAGE_PREFIX
            ):
                raise SwarmhubError(
                    f"aws.ami.{key} is {ref}, on Docker Hub under a name this project "
                    "does not own: the bake would pull a stranger's image",
                    hint="push the local bake's image to your registry (e.g. ECR) "
                    f"and set aws.ami.{key} to it by tag or digest",
                )


def bake(cfg, only: str | None = None, force: bool = False, *, now: datetime | None = None):
    """Bake the selected AMIs (all by default), skipping those whose inputs are unchanged."""
    specs = selected(cfg, only)
    refuse_unpinned(cfg, specs)
    # Before any AWS call too: the local bake's images must be in this engine.
    images = container_images.resolve(cfg) if IMAGES["worker"] in specs else []
    session, account = amis.aws_session(cfg)
    now = now or datetime.now(UTC)
    ec2 = session.client("ec2")
    echo(f"bake: account {account}, region {cfg.aws.region}: {', '.join(s.name for s in specs)}")
    for spec in specs:
        tag = f"[{spec.name}]"
        echo(f"{tag} step 1/6: resolving the base AMI")
        base = resolve_base_ami(ec2, cfg.aws.ami.base_ami_owner, cfg.aws.ami.base_ami_name)
        echo(f"{tag}   base {base.image_id} ({base.name})")
        inputs = image_inputs(cfg, spec, base, images if spec.name == "worker" else None)
        digest = input_hash(input_files(spec), inputs)
        echo(f"{tag} step 2/6: input hash {digest[:12]}")
        existing = amis.find_by_hash(ec2, cfg, spec.name, digest)
        if existing and not force:
            echo(f"{tag} unchanged: {existing['ImageId']} has these inputs, building nothing")
            entry = {
                "ami_id": existing["ImageId"],
                "name": existing.get("Name", ""),
                "input_hash": digest,
                "git_revision": _tag(existing, "swarmhub:git-revision"),
                "policy_revision": _tag(existing, "swarmhub:policy-revision"),
                "container_images": {i.name: i.image_id for i in images if i.local}
                if spec.name == "worker"
                else {},
                "built": False,
            }
        else:
            if existing:
                echo(f"{tag} --force: rebuilding although {existing['ImageId']} has these inputs")
            entry = _build(cfg, ec2, spec, inputs, digest, now, images)
        path = amis.record_image(cfg, spec.name, entry, now=now)
        echo(f"{tag} step 6/6: {entry['ami_id']} recorded in {path}")


def _tag(image: dict, key: str) -> str:
    return next((t["Value"] for t in image.get("Tags", []) if t["Key"] == key), "")
