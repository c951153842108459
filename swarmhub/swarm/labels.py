"""Labels that mark what swarmhub made, so every part can find it again."""

# On each user server's swarm service (and its containers).
USER_SERVER = "swarmhub.user-server"
USER = "swarmhub.user"
# On every service, network and secret that `deploy` creates.
MANAGED = "swarmhub.managed"
# Engine label of a node: its instance (EC2 instance id, or local node name).
INSTANCE_ID = "swarmhub.instance-id"
# Service label, value "true": the one-shot probe the lifecycle handler runs on
# a new node to prove it can start the notebook image without pulling.
PROBE = "swarmhub.probe"
