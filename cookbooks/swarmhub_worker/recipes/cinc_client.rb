#
# Cookbook:: swarmhub_worker
# Recipe:: cinc_client
#
# Optional enrollment with the Chef Server, beside the swarm join and never in
# its way: the unit is ordered after the network only, nothing requires it,
# and it stays disabled unless user-data enables it. Its client.rb reads the
# server address from the environment, so the image holds no server, key or
# organisation.

include_recipe 'swarmhub_common::systemd'

enroll = node['swarmhub']['enroll']
config_dir = enroll['config_dir']

directory config_dir do
  mode '0755'
end

# The Chef Server's certificate goes here at enrollment (swarmhub-enroll).
directory "#{config_dir}/trusted_certs" do
  mode '0755'
end

template "#{config_dir}/client.rb" do
  source 'client.rb.erb'
  mode '0644'
  variables(
    config_dir: config_dir
  )
end

template enroll['script'] do
  source 'swarmhub-enroll.sh.erb'
  mode '0755'
  variables(
    config_dir: config_dir,
    env_file: enroll['env_file']
  )
end

template '/etc/systemd/system/swarmhub-enroll.service' do
  source 'swarmhub-enroll.service.erb'
  mode '0644'
  variables(
    script: enroll['script'],
    env_file: enroll['env_file'],
    timeout: enroll['timeout']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

service 'swarmhub-enroll.service' do
  action :disable
end
