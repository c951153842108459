# Docker engine: Ubuntu's docker.io, as on the local target (Debian's), so
# both targets run the same engine family without a third-party apt repo.
default['swarmhub']['docker']['packages'] = %w(docker.io)
default['swarmhub']['docker']['log_max_size'] = '10m'
default['swarmhub']['docker']['log_max_file'] = '3'

# NFS client for the EFS homes.
default['swarmhub']['nfs']['packages'] = %w(nfs-common)

# amazon-efs-utils, the `mount -t efs -o tls,iam` helper: the file system
# policy refuses mounts without TLS and without the node's IAM role, and only
# efs-utils does both (a TLS tunnel through stunnel and a client certificate
# signed with the role's credentials). It is not packaged for Ubuntu and AWS
# publishes no .deb, so the bake builds one with upstream's own build-deb.sh
# from a git checkout of the release tag, verified by its commit id (a git
# commit id is a hash of the whole tree; a GitHub tarball's bytes are not
# guaranteed stable, so a SHA-256 of it cannot be pinned ahead).
# 1.x is the last line without the Rust efs-proxy: a pure-Python .deb.
# The commit of a tag: git ls-remote https://github.com/aws/efs-utils refs/tags/v1.36.0
default['swarmhub']['efs_utils']['version'] = '1.36.0'
default['swarmhub']['efs_utils']['repository'] = 'https://github.com/aws/efs-utils.git'
default['swarmhub']['efs_utils']['tag'] = 'v1.36.0'
default['swarmhub']['efs_utils']['commit'] = 'c87d19f3e1db26532f09a7fed338347aacb90e10'
default['swarmhub']['efs_utils']['build_packages'] = %w(binutils git)
default['swarmhub']['efs_utils']['runtime_packages'] = %w(nfs-common stunnel4 openssl python3 util-linux)

# The EFS mount at boot (reads SWARMHUB_EFS_ID/SWARMHUB_EFS_MOUNT from the
# join env file); it retries until SWARMHUB_BOOT_DEADLINE seconds after boot
# (the lifecycle handler's launch_timeout). The unit's timeout only backs
# that up (the largest deadline Terraform accepts, 7200 s, plus a margin).
default['swarmhub']['efs']['script'] = '/usr/local/sbin/swarmhub-efs-mount'
default['swarmhub']['efs']['timeout'] = 7300

# The engine label swarmhub.instance-id=<EC2 instance id>, written into
# daemon.json before dockerd starts (the autoscaler and lifecycle handler map
# swarm nodes to instances by it).
default['swarmhub']['engine_label']['script'] = '/usr/local/sbin/swarmhub-engine-label'

# Container images pre-loaded into the engine, so a node never pulls on the
# way to capacity. By default the local bake's, as `docker save` archives the
# bake uploads ([{name, ref, id, file, sha256}], checked before and after
# `docker load`); images an operator names in a registry of theirs
# (aws.ami.notebook_image/hub_image) are pulled instead (preload).
default['swarmhub']['images']['archives'] = []
default['swarmhub']['images']['preload'] = []
# Which of them is the hub and which the notebook image (the manager runs the
# hub from it). Unset: the bake's order, [notebook_image, hub_image].
default['swarmhub']['images']['notebook'] = nil
default['swarmhub']['images']['hub'] = nil

# The join: script (the very file swarmhub/node/swarm-join.sh, staged into
# files/ by the bake), its unit, and the env file user-data writes.
default['swarmhub']['join']['script'] = '/usr/local/sbin/swarm-join.sh'
default['swarmhub']['join']['env_file'] = '/etc/swarmhub/join.env'
# The join retries until SWARMHUB_BOOT_DEADLINE (join.env) seconds after boot
# through this wrapper; the unit's own timeout only backs it up (the largest
# deadline Terraform accepts, 7200 s, plus the mount's and a margin).
default['swarmhub']['join']['wrapper'] = '/usr/local/sbin/swarmhub-join-until'
default['swarmhub']['join']['timeout'] = 7500

# Optional Chef enrollment beside the join (never in its way): user-data
# writes the env file and enables the unit when the fleet has a Chef Server.
# The script gives up at SWARMHUB_ENROLL_DEADLINE (enroll.env); the unit's
# timeout only backs that up (Terraform's largest deadline, 7200 s, plus a
# margin).
default['swarmhub']['enroll']['script'] = '/usr/local/sbin/swarmhub-enroll'
default['swarmhub']['enroll']['env_file'] = '/etc/swarmhub/enroll.env'
default['swarmhub']['enroll']['config_dir'] = '/etc/cinc'
default['swarmhub']['enroll']['timeout'] = 7500

# The manager role (same image; user-data writes manager.env and enables the
# units): the hub, its proxy and services, and the lifecycle handler.
default['swarmhub']['manager']['packages'] = %w(certbot)
default['swarmhub']['manager']['script'] = '/usr/local/sbin/swarmhub-manager-up'
default['swarmhub']['manager']['env_file'] = '/etc/swarmhub/manager.env'
default['swarmhub']['manager']['images_env'] = '/etc/swarmhub/images.env'
default['swarmhub']['manager']['hub_config'] = '/etc/swarmhub/hub-config.json'
# The role's credentials for the hub's containers (IMDS hop limit 1 on the
# manager): written on the host, mounted read-only by the hub and the handler.
default['swarmhub']['manager']['credentials_script'] = '/usr/local/sbin/swarmhub-aws-credentials'
default['swarmhub']['manager']['credentials_dir'] = '/run/swarmhub/aws'
# Port 80 with a domain: ACME challenges (certbot --webroot) and the redirect.
default['swarmhub']['manager']['http_script'] = '/usr/local/sbin/swarmhub-http-redirect'
default['swarmhub']['manager']['acme_webroot'] = '/var/lib/swarmhub-acme'
