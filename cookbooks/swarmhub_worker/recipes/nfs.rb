#
# Cookbook:: swarmhub_worker
# Recipe:: nfs
#
# The NFS client; user-data mounts the EFS file system (its id is known only
# at deploy time).

package node['swarmhub']['nfs']['packages']
