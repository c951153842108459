"""The staff side of the per-student nbgrader inboxes (images/notebook/swarmhub_nbgrader.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location(
        "swarmhub_nbgrader", ROOT / "images" / "notebook" / "swarmhub_nbgrader.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _submit(inbound: Path, folder: str, entry: str) -> None:
    (inbound / folder / entry).mkdir(parents=True)


def test_collect_reads_one_folder_per_student_and_trusts_the_folder(tmp_path):
    nbg = _module()
    inbound = tmp_path / "inbound"
    _submit(inbound, "alice", "alice+ps1+2026-10-06 14:00:00.000000 UTC+abc")
    _submit(inbound, "alice", "alice+ps1+2026-10-06 15:00:00.000000 UTC+def")
    _submit(inbound, "alice", "alice+ps2+2026-10-06 15:00:00.000000 UTC+xyz")
    # bob's folder is the only one his server mounts; a name claiming to be carol's
    # is still bob's submission.
    _submit(inbound, "bob", "carol+ps1+2026-10-06 14:30:00.000000 UTC+ghi")
    (inbound / "bob" / "notes.txt").write_text("not a submission")
    records = nbg.submissions(str(inbound), "*", "ps1")
    assert [(r["username"], r["timestamp"][:16]) for r in records] == [
        ("alice", "2026-10-06 14:00"),
        ("alice", "2026-10-06 15:00"),
        ("bob", "2026-10-06 14:30"),
    ]
    assert records[2]["filename"].startswith("bob/carol+ps1+")
    assert [r["username"] for r in nbg.submissions(str(inbound), "bob", "ps1")] == ["bob"]
    # Without nbgrader installed only the pure part loads.
    assert nbg.ExchangeCollect is None or hasattr(nbg, "PerStudentCollect")


def test_the_image_config_points_nbgrader_at_the_mounts():
    text = (ROOT / "images" / "notebook" / "nbgrader_config.py").read_text()
    from swarmhub.hub.courses import EXCHANGE_ROOT

    assert f'c.Exchange.root = "{EXCHANGE_ROOT}"' in text
    assert "swarmhub_nbgrader.PerStudentCollect" in text
    docker = (ROOT / "images" / "notebook" / "Dockerfile").read_text()
    assert "swarmhub_nbgrader.py" in docker and "chown 1000:1000 /srv/nbgrader/exchange" in docker
