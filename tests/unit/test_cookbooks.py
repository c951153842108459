"""The cookbooks: Ruby and ERB syntax, rubocop, and that every name a recipe
uses (template, cookbook_file, attribute, recipe, template variable) exists.

No Chef client is reachable here, so nothing converges; these checks catch
what would otherwise fail only on a build instance twenty minutes in.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from swarmhub.aws import bake
from swarmhub.config import parse_config
from tests.conftest import REPO, require_tool

COOKBOOKS = REPO / "cookbooks"
NAMES = sorted(p.name for p in COOKBOOKS.iterdir() if (p / "metadata.rb").is_file())
RUBY_FILES = sorted(COOKBOOKS.rglob("*.rb"))
TEMPLATES = sorted(COOKBOOKS.rglob("templates/*.erb"))
ROLES = {spec.policy: spec for spec in bake.IMAGES.values()}

_ATTR_PATH = r"((?:\['[a-z0-9_]+'\])+)"


def path_of(chain: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\['([a-z0-9_]+)'\]", chain))


def depends(cookbook: str) -> list[str]:
    text = (COOKBOOKS / cookbook / "metadata.rb").read_text()
    return re.findall(r"^depends '([a-z_]+)'", text, re.M)


def defined_attributes(cookbook: str) -> set[tuple[str, ...]]:
    """Attribute paths the cookbook and its dependencies define."""
    out: set[tuple[str, ...]] = set()
    for name in [cookbook, *depends(cookbook)]:
        for path in (COOKBOOKS / name / "attributes").glob("*.rb"):
            out |= {
                path_of(m) for m in re.findall(rf"^default{_ATTR_PATH} =", path.read_text(), re.M)
            }
    return out


def used_attributes(recipe: str) -> set[tuple[str, ...]]:
    """node[...] paths, also through a local alias (`join = node['swarmhub']['join']`)."""
    used = {path_of(m) for m in re.findall(rf"node{_ATTR_PATH}", recipe)}
    for alias, chain in re.findall(rf"^(\w+) = node{_ATTR_PATH}$", recipe, re.M):
        for sub in re.findall(rf"\b{alias}{_ATTR_PATH}", recipe):
            used.add(path_of(chain) + path_of(sub))
    return used


def covered(path: tuple[str, ...], defined: set[tuple[str, ...]]) -> bool:
    return any(d[: len(path)] == path or path[: len(d)] == d for d in defined)


def recipes():
    for cookbook in NAMES:
        for recipe in sorted((COOKBOOKS / cookbook / "recipes").glob("*.rb")):
            yield cookbook, recipe


def test_layout_is_sous_chefs_like():
    assert set(NAMES) == {"swarmhub_common", "swarmhub_worker", "swarmhub_chef_server"}
    for cookbook in NAMES:
        root = COOKBOOKS / cookbook
        meta = (root / "metadata.rb").read_text()
        assert f"name '{cookbook}'" in meta
        assert re.search(r"^version '\d+\.\d+\.\d+'$", meta, re.M)
        assert re.search(r"^chef_version '>= 18", meta, re.M)
        for line in re.findall(r"^depends .*$", meta, re.M):
            assert re.fullmatch(r"depends '[a-z_]+', '= \d+\.\d+\.\d+'", line), line
        assert (root / "recipes" / "default.rb").is_file()
    for role in ROLES:
        policy = (COOKBOOKS / role / "Policyfile.rb").read_text()
        assert f"name '{role}'" in policy
        assert f"run_list '{role}::default'" in policy
        for name, path in re.findall(r"^cookbook '([a-z_]+)', path: '([^']+)'", policy, re.M):
            assert (COOKBOOKS / role / path / "metadata.rb").is_file(), name
            assert f"name '{name}'" in (COOKBOOKS / role / path / "metadata.rb").read_text()
        # Every dependency of the role is in its policy.
        listed = re.findall(r"^cookbook '([a-z_]+)'", policy, re.M)
        assert set(depends(role)) | {role} <= set(listed)
        assert set(listed) == set(ROLES[role].cookbooks), "the bake stages what the policy uses"


def test_role_recipes_compose_small_recipes():
    for role in ROLES:
        default = (COOKBOOKS / role / "recipes" / "default.rb").read_text()
        included = re.findall(r"^include_recipe '([a-z_]+)::([a-z_]+)'$", default, re.M)
        assert len(included) >= 4
        body = [
            line
            for line in default.splitlines()
            if line.strip() and not line.startswith("#") and not line.startswith("include_recipe")
        ]
        assert body == [], "a role recipe only composes"


def test_every_named_recipe_template_and_file_exists():
    staged = set(bake.IMAGES["worker"].staged) | set(bake.IMAGES["chef-server"].staged)
    for cookbook, recipe in recipes():
        text = recipe.read_text()
        where = f"{cookbook}/recipes/{recipe.name}"
        for book, name in re.findall(r"include_recipe '([a-z_]+)::([a-z_]+)'", text):
            assert book in [cookbook, *depends(cookbook)], f"{where}: {book} is not a dependency"
            assert (COOKBOOKS / book / "recipes" / f"{name}.rb").is_file(), f"{where}: {name}"
        for source in re.findall(r"^\s+source '([^']+\.erb)'", text, re.M):
            assert (COOKBOOKS / cookbook / "templates" / source).is_file(), f"{where}: {source}"
        for block in re.findall(r"^cookbook_file .*? do\n(.*?)^end", text, re.M | re.S):
            [source] = re.findall(r"source '([^']+)'", block)
            relative = f"{cookbook}/files/{source}"
            assert relative in staged or (COOKBOOKS / relative).is_file(), f"{where}: {source}"


def test_every_attribute_a_recipe_reads_is_defined():
    for cookbook, recipe in recipes():
        defined = defined_attributes(cookbook)
        for path in used_attributes(recipe.read_text()):
            assert covered(path, defined), f"{cookbook}/recipes/{recipe.name}: node{list(path)}"


def test_template_variables_are_passed():
    """Each @name an ERB template uses is in the `variables(...)` of the resource rendering it."""
    for cookbook, recipe in recipes():
        text = recipe.read_text()
        for block in re.findall(r"^template .*? do\n(.*?)^end", text, re.M | re.S):
            [source] = re.findall(r"source '([^']+\.erb)'", block)
            erb = (COOKBOOKS / cookbook / "templates" / source).read_text()
            wanted = set(re.findall(r"@([a-z_]+)", erb))
            passed = set(re.findall(r"^\s+([a-z_]+): ", block, re.M))
            assert wanted <= passed, f"{source}: missing {wanted - passed}"


def test_the_bake_sets_only_attributes_the_cookbooks_define():
    cfg = parse_config({"aws": {"region": "eu-west-1"}}, "test.yaml")

    def leaves(data, prefix=()):
        for key, value in data.items():
            if isinstance(value, dict):
                yield from leaves(value, (*prefix, key))
            else:
                yield (*prefix, key)

    for spec in bake.IMAGES.values():
        defined = defined_attributes(spec.policy)
        for path in leaves(bake.attributes(cfg, spec)):
            assert path in defined or covered(path, defined), f"{spec.name}: {path}"


def test_join_script_is_the_repository_file(tmp_path):
    """The cookbook installs swarmhub/node/swarm-join.sh itself, byte for byte."""
    role = bake.stage_cookbooks(bake.IMAGES["worker"], tmp_path / "stage")
    staged = role / "files" / "swarm-join.sh"
    assert staged.read_bytes() == (REPO / "swarmhub" / "node" / "swarm-join.sh").read_bytes()
    assert staged.stat().st_mode & 0o111
    # ...and no stale copy is kept in the cookbook sources to drift from it.
    assert not (COOKBOOKS / "swarmhub_worker" / "files" / "swarm-join.sh").exists()


def test_join_unit_runs_the_script_from_the_env_file():
    unit = (COOKBOOKS / "swarmhub_worker/templates/swarmhub-join.service.erb").read_text()
    assert "EnvironmentFile=<%= @env_file %>" in unit
    # Through the wrapper that bounds it by the boot deadline.
    assert "ExecStart=<%= @wrapper %>" in unit
    assert "Environment=SWARMHUB_JOIN_SCRIPT=<%= @script %>" in unit
    assert "ConditionPathExists=<%= @env_file %>" in unit
    attributes = (COOKBOOKS / "swarmhub_worker/attributes/default.rb").read_text()
    assert "default['swarmhub']['join']['env_file'] = '/etc/swarmhub/join.env'" in attributes
    join = (COOKBOOKS / "swarmhub_worker/recipes/join.rb").read_text()
    assert "service 'swarmhub-join.service' do\n  action :disable" in join
    enroll = (COOKBOOKS / "swarmhub_worker/templates/swarmhub-enroll.service.erb").read_text()
    # Beside the join, not after it: a Chef Server still booting never delays it.
    assert "After=network-online.target\n" in enroll
    assert "Requires=" not in enroll and "RequiredBy=" not in enroll


def test_first_boot_makes_org_and_admin_and_keys_go_to_ssm():
    script = (
        COOKBOOKS / "swarmhub_chef_server/templates/swarmhub-chef-server-firstboot.sh.erb"
    ).read_text()
    assert "user-create" in script and "org-create" in script
    assert script.count("--type SecureString") == 1  # the one to_ssm helper
    assert 'to_ssm "$prefix/admin-key"' in script
    assert 'to_ssm "$prefix/validator-key"' in script
    assert "/run/" in script, "keys only on tmpfs"
    for recipe in (COOKBOOKS / "swarmhub_chef_server" / "recipes").glob("*.rb"):
        text = recipe.read_text()
        assert "user-create" not in text and "org-create" not in text, "never at bake"


@pytest.mark.parametrize("path", RUBY_FILES, ids=lambda p: str(p.relative_to(COOKBOOKS)))
def test_ruby_syntax(path):
    ruby = require_tool("ruby")
    result = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(COOKBOOKS)))
def test_erb_syntax(path):
    erb = require_tool("erb")
    ruby = require_tool("ruby")
    code = subprocess.run(
        [erb, "-x", "-T", "-", str(path)], capture_output=True, text=True, check=True
    ).stdout
    result = subprocess.run([ruby, "-c"], input=code, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "path",
    [p for p in TEMPLATES if p.name.endswith(".sh.erb")],
    ids=lambda p: p.name,
)
def test_shell_templates_render_to_valid_sh(path, tmp_path):
    """Render with every @variable set to a plain word, then `sh -n` the result."""
    ruby = require_tool("ruby")
    program = (
        "require 'erb'; t = File.read(ARGV[0]); "
        "t.scan(/@([a-z_]+)/).flatten.uniq.each { |v| instance_variable_set(\"@#{v}\", 'x') }; "
        "print ERB.new(t, trim_mode: '-').result(binding)"
    )
    rendered = subprocess.run(
        [ruby, "-e", program, str(path)], capture_output=True, text=True, check=True
    ).stdout
    script = tmp_path / "rendered.sh"
    script.write_text(rendered)
    assert rendered.startswith("#!/bin/sh\n")
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_rubocop_clean():
    rubocop = require_tool("rubocop")
    result = subprocess.run(
        [rubocop, "--format", "simple", "--no-color"],
        cwd=COOKBOOKS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    inspected = re.search(r"(\d+) files? inspected", result.stdout)
    assert inspected and int(inspected.group(1)) == len(RUBY_FILES)


def test_cookbook_rb_files_are_all_found():
    assert len(RUBY_FILES) >= 15
    assert all(isinstance(p, Path) for p in RUBY_FILES)


def _attribute(cookbook: str, path: str) -> str:
    text = (COOKBOOKS / cookbook / "attributes" / "default.rb").read_text()
    [value] = re.findall(rf"^default{re.escape(path)} =\s*'([^']*)'", text, re.M)
    return value


def test_efs_utils_is_pinned_by_tag_and_commit_id():
    """A git commit id pins the tree and can be read from here (git ls-remote);
    a GitHub tarball's SHA-256 could not be, and all zeros stopped every bake."""
    version = _attribute("swarmhub_worker", "['swarmhub']['efs_utils']['version']")
    tag = _attribute("swarmhub_worker", "['swarmhub']['efs_utils']['tag']")
    commit = _attribute("swarmhub_worker", "['swarmhub']['efs_utils']['commit']")
    assert tag == f"v{version}" and version.startswith("1.")
    assert re.fullmatch(r"[0-9a-f]{40}", commit) and set(commit) != {"0"}
    recipe = (COOKBOOKS / "swarmhub_worker" / "recipes" / "efs.rb").read_text()
    assert "revision efs_utils['commit']" in recipe
    assert "git ls-remote origin" in recipe and "git rev-parse HEAD" in recipe
    assert "source_sha256" not in recipe and "remote_file" not in recipe


def test_engine_label_and_efs_units_come_before_docker_and_never_block_the_join():
    templates = COOKBOOKS / "swarmhub_worker" / "templates"
    label = (templates / "swarmhub-engine-label.service.erb").read_text()
    assert "Before=docker.service" in label and "WantedBy=docker.service" in label
    assert "Requires=" not in label and "TimeoutStartSec=" in label
    efs = (templates / "swarmhub-efs.service.erb").read_text()
    assert "Before=docker.service" in efs and "TimeoutStartSec=<%= @timeout %>" in efs
    assert "Requires=" not in efs and "RequiredBy=" not in efs
    join = (templates / "swarmhub-join.service.erb").read_text()
    assert re.search(r"^Wants=.*swarmhub-efs\.service", join, re.M)
    assert re.search(r"^After=.*swarmhub-efs\.service", join, re.M)
    assert re.search(r"^Requires=docker\.service$", join, re.M), "the join requires only docker"
    recipes_dir = COOKBOOKS / "swarmhub_worker" / "recipes"
    assert (
        "service 'swarmhub-engine-label.service' do\n  action :enable"
        in (recipes_dir / "engine_label.rb").read_text()
    )
    assert (
        "service 'swarmhub-efs.service' do\n  action :enable"
        in (recipes_dir / "efs.rb").read_text()
    )


def test_manager_units_are_disabled_and_read_the_env_user_data_writes():
    templates = COOKBOOKS / "swarmhub_worker" / "templates"
    manager = (COOKBOOKS / "swarmhub_worker" / "recipes" / "manager.rb").read_text()
    disabled = re.search(
        r"%w\(([^)]*)\)\.each do \|unit\|\s*service unit do\s*action :disable", manager
    )
    assert disabled, "the manager's units are disabled in the image"
    assert set(disabled.group(1).split()) == {
        "swarmhub-hub.service",
        "swarmhub-lifecycle.service",
        "swarmhub-aws-credentials.service",
        "swarmhub-aws-credentials.timer",
        "swarmhub-http-redirect.service",
        "swarmhub-hub-sync.service",
        "swarmhub-hub-sync.timer",
    }
    for unit in ("swarmhub-hub.service.erb", "swarmhub-lifecycle.service.erb"):
        text = (templates / unit).read_text()
        assert "EnvironmentFile=<%= @env_file %>" in text
        assert "ConditionPathExists=<%= @env_file %>" in text
    attributes = (COOKBOOKS / "swarmhub_worker" / "attributes" / "default.rb").read_text()
    assert "['manager']['env_file'] = '/etc/swarmhub/manager.env'" in attributes
    user_data = (REPO / "terraform/modules/manager/templates/user-data.sh.tftpl").read_text()
    assert "cat > /etc/swarmhub/manager.env" in user_data
