#
# Cookbook:: swarmhub_chef_server
# Recipe:: default
#
# The role recipe of the chef-server AMI. The server runs at bake only so the
# in-image checks can reach its API; the seal step then wipes what that run
# made, and the first-boot unit builds the real thing on the instance.

include_recipe 'swarmhub_common::default'
include_recipe 'swarmhub_chef_server::install'
include_recipe 'swarmhub_chef_server::configure'
include_recipe 'swarmhub_chef_server::first_boot'
include_recipe 'swarmhub_chef_server::seal'
