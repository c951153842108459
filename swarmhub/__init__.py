"""swarmhub: an autoscaling JupyterHub on Docker Swarm, without Kubernetes."""

__version__ = "0.1.0"
