#
# Cookbook:: swarmhub_worker
# Recipe:: engine_label
#
# The engine label swarmhub.instance-id=<EC2 instance id> on every node,
# written into daemon.json by a boot unit ordered before docker.service (the
# id is the instance's, so it cannot be baked). The autoscaler's ASG pool and
# the lifecycle handler map swarm nodes to instances by it. The docker recipe
# renders daemon.json without `labels`; the script merges its one label in
# and keeps every other key.

include_recipe 'swarmhub_common::systemd'
include_recipe 'swarmhub_worker::docker'

label = node['swarmhub']['engine_label']

cookbook_file label['script'] do
  source 'swarmhub-engine-label'
  mode '0755'
end

template '/etc/systemd/system/swarmhub-engine-label.service' do
  source 'swarmhub-engine-label.service.erb'
  mode '0644'
  variables(
    script: label['script']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

# Enabled in the image, on both roles; not started at bake (the build
# instance's id must not end up in the image).
service 'swarmhub-engine-label.service' do
  action :enable
end
