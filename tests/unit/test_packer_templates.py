"""The Packer template: structure (python-hcl2), `packer validate` and `packer fmt`.

Only Debian's packer 1.6.6 is available here. It predates `required_plugins`
(so the copy it validates leaves packer/plugins.pkr.hcl out) and knows the
amazon builder of its day; the attributes it does not know are stripped from
that copy, each named below with the reason, and nothing else is.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import hcl2
import pytest

from swarmhub.aws import bake
from swarmhub.config import parse_config
from tests.conftest import REPO, require_tool

PACKER_DIR = REPO / "packer"
IMAGE_NAMES = ["worker", "chef-server"]

# Newer than packer 1.6.6's built-in amazon builder, so unknown to it. The
# pinned plugin (packer/plugins.pkr.hcl) has them all.
NEWER_ATTRIBUTES = {
    # AMI deprecation time: amazon plugin >= 1.0 (packer 1.7.x era).
    "deprecate_at": re.compile(r"^  deprecate_at\s*=.*\n", re.M),
    # AMI's IMDS default for instances launched from it: amazon plugin >= 1.1.
    "imds_support": re.compile(r"^  imds_support\s*=.*\n", re.M),
    # IMDSv2 on the build instance: added to the builder after 1.6.6.
    "metadata_options": re.compile(r"^  metadata_options \{\n(?:    .*\n)*?  \}\n", re.M),
}


def unq(value):
    """python-hcl2 keeps HCL's quotes on strings and keys."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def variables() -> dict[str, dict]:
    out = {}
    for block in load(PACKER_DIR / "variables.pkr.hcl")["variable"]:
        for name, body in block.items():
            out[unq(name)] = body
    return out


def source() -> dict:
    [block] = load(PACKER_DIR / "image.pkr.hcl")["source"]
    return block['"amazon-ebs"']['"this"']


def build() -> dict:
    [block] = load(PACKER_DIR / "image.pkr.hcl")["build"]
    return block


def rendered_pkrvars(name: str, tmp_path: Path) -> Path:
    """The per-build var file exactly as the bake renders it (fake base AMI, real spec)."""
    cfg = parse_config({"aws": {"region": "eu-west-1"}}, "test.yaml")
    spec = bake.IMAGES[name]
    base = bake.BaseAmi("ami-0123456789abcdef0", "ubuntu-noble-24.04-amd64-server-20261101")
    inputs = bake.image_inputs(cfg, spec, base)
    archive = tmp_path / "policy.tgz"
    archive.write_bytes(b"")
    attributes = tmp_path / "attributes.json"
    attributes.write_text("{}")
    archive_dir = tmp_path / "images"
    archive_dir.mkdir(exist_ok=True)
    (archive_dir / "images.json").write_text("{}")
    values = bake.render_pkrvars(
        spec,
        inputs,
        digest="f" * 64,
        git_revision="0" * 40,
        policy_revision="local-0123",
        policy_archive=archive,
        attributes_file=attributes,
        manifest_path=tmp_path / "packer-manifest.json",
        container_archive_dir=archive_dir,
        deprecate_after_days=90,
        now=datetime(2026, 11, 25, tzinfo=UTC),
    )
    path = tmp_path / f"{name}.pkrvars.json"
    path.write_text(json.dumps(values))
    return path


def test_plugins_are_pinned_in_their_own_file():
    [block] = load(PACKER_DIR / "plugins.pkr.hcl")["packer"]
    assert unq(block["required_version"]).startswith(">= 1.10")
    amazon = block["required_plugins"][0]["amazon"]
    assert unq(amazon["source"]) == "github.com/hashicorp/amazon"
    assert re.fullmatch(r"= \d+\.\d+\.\d+", unq(amazon["version"])), "an exact pin"
    for other in PACKER_DIR.glob("*.pkr.hcl"):
        if other.name != "plugins.pkr.hcl":
            assert "required_plugins" not in other.read_text(), other


def test_every_variable_is_typed_and_described():
    found = variables()
    assert len(found) > 10
    for name, body in found.items():
        assert "type" in body, name
        assert unq(body.get("description", "")).strip(), name


def test_base_ami_comes_from_an_owner_pinned_lookup():
    src = source()
    assert "source_ami" not in src, "never a fixed base AMI id"
    [lookup] = src["source_ami_filter"]
    assert lookup["owners"] == ["${var.base_ami_owner}"]
    assert lookup["most_recent"] is True
    assert unq(lookup["filters"]["name"]) == "${var.base_ami_name}"
    owner = variables()["base_ami_owner"]
    assert unq(owner["default"]) == "099720109477"  # Canonical
    assert "ubuntu-noble-24.04" in unq(variables()["base_ami_name"]["default"])


def test_root_volume_encrypted_and_imdsv2_required():
    src = source()
    [volume] = src["launch_block_device_mappings"]
    assert volume["encrypted"] is True
    assert unq(volume["device_name"]) == "/dev/sda1"
    [metadata] = src["metadata_options"]
    assert unq(metadata["http_tokens"]) == "required"
    assert unq(src["imds_support"]) == "v2.0"
    assert src["deprecate_at"] == "${var.deprecate_at}"


def test_tags_carry_the_provenance_bake_and_prune_rely_on():
    [locals_] = load(PACKER_DIR / "image.pkr.hcl")["locals"]
    tags = {unq(k): unq(v) for k, v in locals_["tags"].items() if not k.startswith("__")}
    assert tags["swarmhub:input-hash"] == "${var.input_hash}"
    assert tags["swarmhub:git-revision"] == "${var.git_revision}"
    assert tags["swarmhub:policy-revision"] == "${var.policy_revision}"
    assert tags["swarmhub:base-ami"] == "{{ .SourceAMI }}"
    assert tags["swarmhub:image"] == "${var.image_name}"
    assert tags["swarmhub:deployment"] == "${var.name_prefix}"
    src = source()
    assert src["tags"] == src["snapshot_tags"] == "${local.tags}"


def test_cookbooks_travel_by_file_and_converge_from_shell():
    """No (archived) chef-solo/chef-client provisioner: file + shell + cinc-client."""
    provisioners = [
        (unq(kind), body) for block in build()["provisioner"] for kind, body in block.items()
    ]
    kinds = [kind for kind, _ in provisioners]
    assert set(kinds) == {"file", "shell"}
    files = [body for kind, body in provisioners if kind == "file"]
    assert {unq(f["source"]) for f in files} == {
        "${var.policy_archive}",
        "${var.attributes_file}",
        # The local bake's images, as archives: no registry (decision 0011).
        "${var.container_archive_dir}/",
    }
    scripts = json.dumps([body for kind, body in provisioners if kind == "shell"])
    order = ["install-cinc.sh", "converge.sh", "${var.image_checks}", "cleanup.sh"]
    positions = [scripts.index(name) for name in order]
    assert positions == sorted(positions), "install, converge, check, then clean up"
    converge = (PACKER_DIR / "scripts" / "converge.sh").read_text()
    assert "cinc-client --local-mode" in converge
    install = (PACKER_DIR / "scripts" / "install-cinc.sh").read_text()
    assert "sha256sum --check" in install
    assert not re.search(r"\|\s*(sudo\s+)?(ba)?sh\b", install), "no piped install script"


def test_manifest_post_processor_records_the_build():
    [post] = build()["post-processor"]
    manifest = post['"manifest"']
    assert manifest["output"] == "${var.manifest_path}"
    assert set(manifest["custom_data"]) >= {"input_hash", "git_revision", "policy_revision"}
    # The loaded images' ids go into the AMI's record.
    assert "var.container_image_ids" in manifest["custom_data"]["container_images"]


def test_image_archives_are_uploaded_before_the_converge_and_checked_after_it():
    order = []
    for block in build()["provisioner"]:
        for body in block.values():
            text = json.dumps(body)
            if "container_archive_dir" in text:
                order.append("upload")
            if "converge.sh" in text:
                order.append("converge")
            if "SWARMHUB_EXPECTED_IMAGE_IDS" in text:
                order.append("check")
    assert order == ["upload", "converge", "check"]
    checks = (REPO / "images" / "worker" / "checks.sh").read_text()
    assert "SWARMHUB_EXPECTED_IMAGE_IDS" in checks and "/etc/swarmhub/images.json" in checks


def test_cleanup_removes_keys_host_keys_and_cloud_init_state():
    cleanup = (PACKER_DIR / "scripts" / "cleanup.sh").read_text()
    for needle in (
        "/etc/cinc/client.pem",
        "/etc/cinc/validation.pem",
        "/etc/ssh/ssh_host_*",
        "cloud-init clean",
        "/etc/machine-id",
        "/root/.docker/config.json",
    ):
        assert needle in cleanup, needle


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_images_have_the_same_shape(name):
    image_dir = REPO / "images" / name
    assert (image_dir / "README.md").read_text().strip()
    checks = image_dir / "checks.sh"
    assert checks.stat().st_mode & 0o111, "checks.sh must be executable"
    data = {k: v for k, v in load(image_dir / "image.pkrvars.hcl").items() if k[:2] != "__"}
    declared = variables()
    assert set(data) <= set(declared), "a var file sets only declared variables"
    assert unq(data["image_name"]) == name
    assert unq(data["policy_name"]) == bake.IMAGES[name].policy
    other = next(n for n in IMAGE_NAMES if n != name)
    other_data = load(REPO / "images" / other / "image.pkrvars.hcl")
    assert set(data) == {k for k in other_data if k[:2] != "__"}, "same keys in every image"


def test_rendered_and_image_var_files_cover_every_required_variable(tmp_path):
    required = {n for n, body in variables().items() if "default" not in body}
    for name in IMAGE_NAMES:
        image_data = {k for k in load(REPO / "images" / name / "image.pkrvars.hcl")}
        rendered = set(json.loads(rendered_pkrvars(name, tmp_path).read_text()))
        assert required <= image_data | rendered, required - image_data - rendered
        assert rendered <= set(variables()), rendered - set(variables())


def test_shell_scripts_parse():
    scripts = [*PACKER_DIR.glob("scripts/*.sh"), *REPO.glob("images/*/checks.sh")]
    assert len(scripts) >= 5
    for script in scripts:
        assert script.read_text().startswith("#!/bin/sh\n"), script
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def _old_packer_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "packer"
    shutil.copytree(PACKER_DIR, copy)
    (copy / "plugins.pkr.hcl").unlink()
    template = copy / "image.pkr.hcl"
    text = template.read_text()
    for name, pattern in NEWER_ATTRIBUTES.items():
        text, count = pattern.subn("", text)
        assert count == 1, f"expected exactly one {name} to strip, found {count}"
    template.write_text(text)
    return copy


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_packer_validate(name, tmp_path):
    binary = require_tool("packer")
    copy = _old_packer_copy(tmp_path)
    result = subprocess.run(
        [
            binary,
            "validate",
            f"-var-file={REPO / 'images' / name / 'image.pkrvars.hcl'}",
            f"-var-file={rendered_pkrvars(name, tmp_path)}",
            str(copy),
        ],
        capture_output=True,
        text=True,
        env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_packer_validate_catches_a_missing_variable(tmp_path):
    """The validate above really checks variables: without the rendered file it fails."""
    binary = require_tool("packer")
    copy = _old_packer_copy(tmp_path)
    result = subprocess.run(
        [binary, "validate", f"-var-file={REPO / 'images/worker/image.pkrvars.hcl'}", str(copy)],
        capture_output=True,
        text=True,
        env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode != 0
    assert "input_hash" in result.stdout + result.stderr


def test_packer_fmt(tmp_path):
    binary = require_tool("packer")
    targets = [PACKER_DIR, *(REPO / "images" / name for name in IMAGE_NAMES)]
    for target in targets:
        result = subprocess.run(
            [binary, "fmt", "-check", "-diff", str(target)],
            capture_output=True,
            text=True,
            env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            timeout=60,
        )
        assert result.returncode == 0, f"{target}:\n{result.stdout}{result.stderr}"
