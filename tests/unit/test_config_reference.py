"""docs/config-reference.md is generated from the model and must not fall behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "config-reference.md"


def test_the_reference_is_up_to_date():
    from swarmhub.config import reference

    assert DOC.read_text() == reference.render(), (
        "docs/config-reference.md is out of date: "
        "python -m swarmhub.config.reference > docs/config-reference.md"
    )


def test_every_key_has_a_type_a_default_and_a_sentence():
    from swarmhub.config import reference

    rows = reference.rows()
    keys = [row.key for row in rows]
    assert "hub.auth.kind" in keys and "autoscaler.schedule[].overnight" in keys
    assert "aws.fleet.backend.lock" in keys and "local.homes_dir" in keys
    for row in rows:
        assert row.type and row.default and row.sentence, row


def test_regenerating_it_is_one_command():
    proc = subprocess.run(
        [sys.executable, "-m", "swarmhub.config.reference"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert proc.stdout == DOC.read_text()
