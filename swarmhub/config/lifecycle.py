"""The lifecycle handler's timing and Chef enrollment (the `lifecycle` section).

Where the queue, the group and the Chef Server are comes from the deployment
(command line or environment of the service), not from here; the Chef key is a
secret and is only ever a file path given to the service.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from swarmhub.config.types import Strict


class LifecycleConfig(Strict):
    enabled: bool = True
    # How long a terminating node may take to lose its user servers after the
    # drain; past it the node is removed anyway (the instance is going away).
    drain_timeout: int = Field(default=900, gt=0, description="seconds")
    # RecordLifecycleActionHeartbeat this often while waiting. Must be below
    # the lifecycle hook's HeartbeatTimeout (30..7200 s) set by Terraform.
    heartbeat_interval: int = Field(default=60, ge=1, le=3600, description="seconds")
    # A new node that is not a Ready swarm member able to run the notebook
    # image within this time is ABANDONed, so it never takes users.
    launch_timeout: int = Field(default=600, gt=0, description="seconds")
    # Down swarm nodes and Chef nodes of instances that no longer exist are
    # cleaned up at start-up and this often.
    reconcile_interval: int = Field(default=300, gt=0, description="seconds")
    # How often a waiting step looks at the swarm again.
    poll_interval: int = Field(default=5, gt=0, description="seconds")
    # A received message stays invisible this long and is extended at every
    # heartbeat: a handler that dies mid-job gets its message back after this.
    visibility_timeout: int = Field(default=180, ge=1, le=43200, description="seconds")
    # Delete a terminated instance's node and client from the Chef Server.
    chef_enrollment: bool = False
    # Chef Infra/Cinc Server organization; None for a single-tenant server
    # (goiardi, Chef 11-style URLs without /organizations/<org>).
    chef_org: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,254}$")

    @model_validator(mode="after")
    def _heartbeat_within_visibility(self) -> LifecycleConfig:
        if self.heartbeat_interval >= self.visibility_timeout:
            raise ValueError(
                "heartbeat_interval must be shorter than visibility_timeout, or a message "
                "being worked on would reappear on the queue"
            )
        return self
