"""A normal deploy is quiet: no ERROR and no traceback from the hub, its services
or the pool agent (runs first, before any fault test has disturbed the stack).

Measured before: a deploy with the autoscaler on logged four ERROR tracebacks in
its first minute ("the local pool agent ... does not answer"): the hub started
before the agent.
"""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import hub_log, redeployed, scaling_config
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def test_a_deploy_with_the_autoscaler_logs_no_error(stack: Stack, tmp_path):
    since = time.time() - 1
    with redeployed(stack, tmp_path / "quiet.yaml", scaling_config(stack)):
        time.sleep(20)  # several autoscaler polls (every 3 s)
        log = hub_log(since)
    assert "autoscaler] started" in log
    bad = [line for line in log.splitlines() if "ERROR" in line or "Traceback" in line]
    assert bad == []
    agent_log = (stack.state_dir / "agent.log").read_text(errors="replace")
    assert "Traceback" not in agent_log
