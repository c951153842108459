"""The nightly bake workflow: GitHub's schema, and what it must do."""

from __future__ import annotations

import subprocess

import yaml

from tests.conftest import REPO, require_tool

WORKFLOW = REPO / ".github" / "workflows" / "nightly-bake.yml"


def test_matches_githubs_workflow_schema():
    check = require_tool("check-jsonschema")
    result = subprocess.run(
        [check, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    """The check above really validates: a job without runs-on or steps fails it."""
    check = require_tool("check-jsonschema")
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  bake:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    result = subprocess.run(
        [check, "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0


def test_nightly_bake_and_prune_with_an_oidc_role():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}

    [job] = workflow["jobs"].values()
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    runs = [s.get("run", "") for s in steps]
    creds = uses.index(
        next(u for u in uses if u.startswith("aws-actions/configure-aws-credentials@"))
    )
    assert "role-to-assume" in steps[creds]["with"]
    assert not any("aws-secret-access-key" in s.get("with", {}) for s in steps)

    bake = next(i for i, r in enumerate(runs) if "python pipeline.py bake --target aws" in r)
    prune = next(i for i, r in enumerate(runs) if "python pipeline.py prune --target aws" in r)
    assert creds < bake < prune
    assert any(u.startswith("hashicorp/setup-packer@") for u in uses[:bake])
