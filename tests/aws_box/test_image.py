"""The box's image carries the worker cookbook's templates as its recipes render them."""

from __future__ import annotations

import pytest

from box import image
from tests.conftest import require_tool


def test_every_worker_template_is_rendered_and_installed_as_the_recipes_say(tmp_path):
    require_tool("ruby")
    templates = {p.name for p in (image.COOKBOOK / "templates").glob("*.erb")}
    # images.env.erb needs the baked images' names: the box has none yet (docs/aws-box.md).
    assert {src for src, *_ in image.TEMPLATES} == templates - {"images.env.erb"}

    image.install_cookbook(tmp_path)

    join = (tmp_path / "etc/systemd/system/swarmhub-join.service").read_text()
    assert "ExecStart=/usr/local/sbin/swarmhub-join-until\n" in join
    assert "EnvironmentFile=/etc/swarmhub/join.env\n" in join
    assert "TimeoutStartSec=7500\n" in join
    assert '"max-size": "10m"' in (tmp_path / "etc/docker/daemon.json").read_text()
    for _src, dest, mode, _vars, _action in image.TEMPLATES:
        text = (tmp_path / dest).read_text()
        assert "<%" not in text, dest
        assert (tmp_path / dest).stat().st_mode & 0o777 == mode, dest
    wants = tmp_path / "etc/systemd/system"
    # efs.rb and engine_label.rb enable their units; join.rb, manager.rb and
    # cinc_client.rb leave theirs disabled for user-data to enable.
    assert sorted(str(p.relative_to(wants)) for p in wants.glob("*.wants/*")) == [
        "docker.service.wants/swarmhub-engine-label.service",
        "multi-user.target.wants/swarmhub-efs.service",
    ]
    assert (tmp_path / "usr/local/sbin/swarm-join.sh").read_bytes() == (
        image.REPO / "swarmhub/node/swarm-join.sh"
    ).read_bytes()


def test_a_template_variable_naming_no_attribute_stops_the_render_in_one_line(monkeypatch):
    require_tool("ruby")
    bad = [("daemon.json.erb", "etc/docker/daemon.json", 0o644, {"log_max_size": "no.such"}, None)]
    monkeypatch.setattr(image, "TEMPLATES", bad)
    with pytest.raises(image.BoxError, match=r"no attribute no\.such") as err:
        image.render_templates()
    assert "\n" not in str(err.value)
