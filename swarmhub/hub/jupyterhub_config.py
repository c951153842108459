"""JupyterHub configuration for swarmhub: the same file on the local target and AWS.

Everything that varies comes from settings.json (swarmhub.hub.settings) and
the Swarm secrets; nothing here is specific to one machine.
"""

# ruff: noqa: F821 - `c` is provided by JupyterHub when it loads this file

from swarmhub.hub import hubconfig

hubconfig.configure(c)
