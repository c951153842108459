# Docker engine: Ubuntu's docker.io, as on the local target (Debian's), so
# both targets run the same engine family without a third-party apt repo.
default['swarmhub']['docker']['packages'] = %w(docker.io)
default['swarmhub']['docker']['log_max_size'] = '10m'
default['swarmhub']['docker']['log_max_file'] = '3'

# NFS client for the EFS homes (amazon-efs-utils is not packaged for Ubuntu).
default['swarmhub']['nfs']['packages'] = %w(nfs-common)

# Container images pre-loaded into the engine, so a node never pulls on the
# way to capacity. The bake sets them from aws.ami.notebook_image/hub_image.
default['swarmhub']['images']['preload'] = []

# The join: script (the very file swarmhub/node/swarm-join.sh, staged into
# files/ by the bake), its unit, and the env file user-data writes.
default['swarmhub']['join']['script'] = '/usr/local/sbin/swarm-join.sh'
default['swarmhub']['join']['env_file'] = '/etc/swarmhub/join.env'

# Optional Chef enrollment after the join (never before it).
default['swarmhub']['enroll']['script'] = '/usr/local/sbin/swarmhub-enroll'
default['swarmhub']['enroll']['env_file'] = '/etc/swarmhub/enroll.env'
default['swarmhub']['enroll']['config_dir'] = '/etc/cinc'
