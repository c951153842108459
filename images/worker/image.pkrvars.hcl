# The worker AMI: every swarm node (manager or worker, chosen by user-data).
image_name        = "worker"
image_description = "swarmhub node: Docker engine, NFS client, notebook and hub images pre-loaded"
policy_name       = "swarmhub_worker"
# The pre-loaded notebook and hub images take several GiB.
root_volume_size = 40
