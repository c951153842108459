"""What every program of swarmhub knows about a Docker swarm, in one place.

Both targets (the local one and the AWS manager), the hub's spawner, the
autoscaler and the lifecycle handler read and change the swarm through this
package: the labels that mark what we made (`labels`), the one view of nodes
and tasks (`state`), node operations (`nodes`), the hub's generated secrets
(`secrets`), the proxy and hub service specs (`specs`) and creating them
idempotently (`stack`). Nothing here imports JupyterHub or tornado, so the
operator's CLI can use all of it with the base dependencies.
"""
