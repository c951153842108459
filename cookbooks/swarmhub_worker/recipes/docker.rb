#
# Cookbook:: swarmhub_worker
# Recipe:: docker
#
# The Docker engine, enabled at boot, with bounded container logs.

docker = node['swarmhub']['docker']

package docker['packages']

directory '/etc/docker' do
  mode '0755'
end

template '/etc/docker/daemon.json' do
  source 'daemon.json.erb'
  mode '0644'
  variables(
    log_max_size: docker['log_max_size'],
    log_max_file: docker['log_max_file']
  )
  notifies :restart, 'service[docker]', :immediately
end

service 'docker' do
  action %i(enable start)
end
