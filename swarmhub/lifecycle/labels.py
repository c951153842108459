"""The Docker labels the lifecycle handler reads.

The labels shared with the hub and the autoscaler are defined once, in
swarmhub.hub.labels, and only re-exported here:

- INSTANCE_ID (`swarmhub.instance-id`), engine label: the node's EC2 instance
  id (local target: the local node's id); set in daemon.json by the boot path;
- USER_SERVER (`swarmhub.user-server`, value "true"), service label: a user's
  notebook server, set by the spawner; the handler waits for these, and only
  these, to leave a draining node;
- USER (`swarmhub.user`), service label: whose server it is (for log lines).
"""

from swarmhub.hub.labels import INSTANCE_ID, USER, USER_SERVER

# Service label, value "true": the one-shot probe the handler runs on a new node
# to prove it can start the notebook image without pulling (swarm.py).
PROBE = "swarmhub.probe"

__all__ = ["INSTANCE_ID", "PROBE", "USER", "USER_SERVER"]
