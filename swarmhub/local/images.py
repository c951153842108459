"""Local bake: the `hub` and `notebook` images, built with no container registry.

base      debootstrap --variant=minbase + docker import
hub       images/hub/Dockerfile     FROM base, + this package
notebook  images/notebook/Dockerfile FROM base

Each image is tagged with a hash of its inputs (its folder, the pinned
versions, the base it stands on and, for the hub, this package's source). A
bake whose inputs did not change finds the tag already present and builds
nothing. A failed build leaves no tag behind (docker only tags on success) and
its staging directory is removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from swarmhub import versions
from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import engine
from swarmhub.local.paths import paths
from swarmhub.run import echo, run, which

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
NAMES = ("hub", "notebook")
_HASH_LEN = 12
# Files of this package that go into the hub image (and so into its hash).
_PACKAGE_GLOBS = ("swarmhub/**/*.py", "swarmhub/**/*.sh", "swarmhub/**/*.j2")


def _digest(items: Iterable[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in sorted(items):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:_HASH_LEN]


def _files(root: Path, patterns: Iterable[str]) -> list[tuple[str, bytes]]:
    out = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                out.append((str(path.relative_to(root)), path.read_bytes()))
    return out


def base_hash(cfg: Config) -> str:
    spec = {
        "suite": cfg.images.debian_suite,
        "mirror": cfg.images.debian_mirror,
        "packages": list(versions.BASE_PACKAGES),
    }
    return _digest([("spec", json.dumps(spec, sort_keys=True).encode())])


def image_hash(cfg: Config, name: str) -> str:
    """The input hash of image `name`: what makes its tag."""
    items = _files(IMAGES / name, ["**/*"])
    items.append(("base", base_hash(cfg).encode()))
    if name == "hub":
        items.append(
            ("pins", json.dumps([versions.HUB_PACKAGES, versions.HUB_DEBIAN_PACKAGES]).encode())
        )
        items += _files(REPO, _PACKAGE_GLOBS)
        items += _files(REPO, ["pyproject.toml"])
    else:
        pins = [versions.NOTEBOOK_PACKAGES, versions.NOTEBOOK_DEBIAN_PACKAGES]
        items.append(("pins", json.dumps(pins).encode()))
    return _digest(items)


def tag(cfg: Config, name: str) -> str:
    h = base_hash(cfg) if name == "base" else image_hash(cfg, name)
    return f"{cfg.images.repository}/{name}:{h}"


def exists(image: str) -> bool:
    import docker.errors

    try:
        engine.client().images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def recorded_or_expected(cfg: Config) -> dict[str, str]:
    """The tags the last bake recorded, else those a bake of these inputs would
    make; asks no engine (for render and plan)."""
    recorded_file = paths(cfg).images_file
    try:
        recorded = json.loads(recorded_file.read_text())
    except (OSError, ValueError):
        recorded = {}
    return {name: recorded.get(name) or tag(cfg, name) for name in NAMES}


def built_images(cfg: Config) -> dict[str, str]:
    """The tags the last bake recorded (bake -> file -> deploy, as on AWS).

    An image whose inputs changed since is still deployed, with a warning:
    deploy never builds.
    """
    recorded_file = paths(cfg).images_file
    recorded = json.loads(recorded_file.read_text()) if recorded_file.exists() else {}
    out = {}
    for name in NAMES:
        image = recorded.get(name)
        if not image or not exists(image):
            raise SwarmhubError(
                f"the {name} image is not built", hint="run: python pipeline.py bake"
            )
        if image != tag(cfg, name):
            echo(f"warning: {name} inputs changed since the last bake; bake to pick them up")
        out[name] = image
    return out


def bake(cfg: Config, *, only: str | None = None, force: bool = False) -> dict[str, str]:
    """Build what changed; return {name: tag}. Safe to re-run."""
    p = paths(cfg)
    engine.ensure_engine()
    p.ensure_state()
    base = _ensure_base(cfg, force=force)
    result = {}
    for name in NAMES if only is None else (only,):
        image = tag(cfg, name)
        if exists(image) and not force:
            echo(f"{name}: {image} is up to date (inputs unchanged), nothing to build")
        else:
            _build(cfg, name, image, base)
        result[name] = image
    recorded = json.loads(p.images_file.read_text()) if p.images_file.exists() else {}
    recorded.update(result)
    p.images_file.write_text(json.dumps(recorded, indent=2) + "\n")
    return result


def _ensure_base(cfg: Config, *, force: bool) -> str:
    image = tag(cfg, "base")
    if exists(image) and not force:
        echo(f"base: {image} is up to date, nothing to build")
        return image
    debootstrap = which("debootstrap", hint="apt-get install debootstrap")
    echo(f"base: building {image} with debootstrap ({cfg.images.debian_suite})")
    with tempfile.TemporaryDirectory(prefix="swarmhub-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=" + ",".join(versions.BASE_PACKAGES),
                cfg.images.debian_suite,
                rootfs,
                cfg.images.debian_mirror,
            ]
        )
        # What apt downloaded is not part of the image.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for child in (rootfs / junk).glob("*"):
                if child.is_file():
                    child.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        run(["tar", "-C", rootfs, "-cf", tarball, "."], quiet=True)
        run(
            [
                engine.build_cli(),
                "import",
                "--change",
                f'LABEL swarmhub.input-hash="{base_hash(cfg)}"',
                tarball,
                image,
            ]
        )
    return image


def _build(cfg: Config, name: str, image: str, base: str) -> None:
    echo(f"{name}: building {image}")
    with tempfile.TemporaryDirectory(prefix=f"swarmhub-{name}-") as tmp:
        ctx = Path(tmp)
        shutil.copytree(IMAGES / name, ctx, dirs_exist_ok=True)
        build_args = {"BASE": base}
        if name == "hub":
            src = ctx / "src"
            src.mkdir()
            shutil.copytree(
                REPO / "swarmhub", src / "swarmhub", ignore=shutil.ignore_patterns("__pycache__")
            )
            shutil.copy(REPO / "pyproject.toml", src)
            (src / "README.md").write_text("swarmhub\n")
            build_args["PIP_PACKAGES"] = " ".join(versions.HUB_PACKAGES)
            build_args["DEBIAN_PACKAGES"] = " ".join(versions.HUB_DEBIAN_PACKAGES)
        else:
            build_args["PIP_PACKAGES"] = " ".join(versions.NOTEBOOK_PACKAGES)
            build_args["DEBIAN_PACKAGES"] = " ".join(versions.NOTEBOOK_DEBIAN_PACKAGES)
        args = [engine.build_cli(), "build", "--progress", "plain", "--network", "host"]
        ca = _ca_bundle()
        args += ["--secret", f"id=pip-ca,src={ca}"]
        for key, value in build_args.items():
            args += ["--build-arg", f"{key}={value}"]
        args += ["--label", f"swarmhub.input-hash={image.rsplit(':', 1)[1]}", "-t", image, ctx]
        run(args, env={"DOCKER_BUILDKIT": "1"})


def _ca_bundle() -> str:
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if Path(candidate).exists():
            return candidate
    raise SwarmhubError("no CA certificate bundle found", hint="apt-get install ca-certificates")
