"""checkov over terraform/: zero failed checks, every skip justified in place.

checkov's dependencies conflict with ours, so it lives in its own venv:
    python3 -m venv /opt/swarmhub-tools/checkov
    /opt/swarmhub-tools/checkov/bin/pip install checkov
Found through $SWARMHUB_CHECKOV, that path, or PATH.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

from tests.conftest import REPO, require_tool

TF = REPO / "terraform"
DEFAULT = "/opt/swarmhub-tools/checkov/bin/checkov"


def _checkov() -> str:
    return require_tool("checkov", path=os.environ.get("SWARMHUB_CHECKOV") or DEFAULT)


def _reports(checkov: str) -> list[dict]:
    result = subprocess.run(
        [
            checkov,
            "--directory",
            str(TF),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--compact",
            # No network here (and none needed): no guideline download.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"checkov printed no JSON: {result.stderr[-2000:]}") from exc
    return data if isinstance(data, list) else [data]


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason():
    reports = _reports(_checkov())
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert terraform, reports
    summary = terraform[0]["summary"]
    results = terraform[0]["results"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in results["failed_checks"]
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["passed"] > 100
    for check in results["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) > 15, f"{check['check_id']} {check['resource']}: no reason"


def test_every_skip_comment_sits_inside_the_resource_it_skips():
    # A skip written above a block instead of inside it is silently ignored by
    # checkov; keep them all inside, each with a reason.
    pattern = re.compile(r"#checkov:skip=(CKV2?_AWS_\d+):(.*)")
    found = 0
    for path in TF.rglob("*.tf"):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            match = pattern.search(line)
            if not match:
                continue
            found += 1
            assert match.group(2).strip(), f"{path}:{number + 1}: skip without a reason"
            assert line.startswith("  "), f"{path}:{number + 1}: skip outside a block"
    assert found >= 5
