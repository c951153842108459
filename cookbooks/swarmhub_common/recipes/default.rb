#
# Cookbook:: swarmhub_common
# Recipe:: default
#
# Shared base of every swarmhub image.

apt_update 'bake' do
  action :update
end

include_recipe 'swarmhub_common::awscli'
