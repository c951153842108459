#
# Cookbook:: swarmhub_worker
# Recipe:: join
#
# The swarm join at boot: the project's one join script and a unit that runs
# it. The unit is installed *disabled*: user-data writes the env file (manager
# address, SSM parameter of the token, region) and enables it, so a baked
# image never joins anything on its own.

include_recipe 'swarmhub_common::systemd'

join = node['swarmhub']['join']

directory ::File.dirname(join['env_file']) do
  mode '0755'
end

cookbook_file join['script'] do
  source 'swarm-join.sh'
  mode '0755'
end

cookbook_file join['wrapper'] do
  source 'swarmhub-join-until'
  mode '0755'
end

template '/etc/systemd/system/swarmhub-join.service' do
  source 'swarmhub-join.service.erb'
  mode '0644'
  variables(
    script: join['script'],
    wrapper: join['wrapper'],
    env_file: join['env_file'],
    timeout: join['timeout']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

service 'swarmhub-join.service' do
  action :disable
end
