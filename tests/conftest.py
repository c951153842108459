"""Shared test helpers.

A test that needs an external tool (packer, rubocop, goiardi, checkov, a Docker
engine) calls `require_tool`: on a developer machine without it the test is
skipped with the reason; under CI (CI=true) a missing tool is a failure, so a
green CI run always means the check really ran.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str, *, path: str | None = None) -> str:
    """Return the tool's path; skip (locally) or fail (CI) when it is missing."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if found:
        return found
    message = f"'{name}' is not installed (scripts/install-deps installs it)"
    if UNDER_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def repo() -> Path:
    return REPO
