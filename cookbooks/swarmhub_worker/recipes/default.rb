#
# Cookbook:: swarmhub_worker
# Recipe:: default
#
# The role recipe of the worker AMI: one image for every swarm node, manager
# or worker (user-data decides), whose boot does nothing but join.

include_recipe 'swarmhub_common::default'
include_recipe 'swarmhub_worker::docker'
include_recipe 'swarmhub_worker::engine_label'
include_recipe 'swarmhub_worker::nfs'
include_recipe 'swarmhub_worker::efs'
include_recipe 'swarmhub_worker::images'
include_recipe 'swarmhub_worker::join'
include_recipe 'swarmhub_worker::manager'
include_recipe 'swarmhub_worker::cinc_client'
