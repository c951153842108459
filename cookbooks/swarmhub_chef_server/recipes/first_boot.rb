#
# Cookbook:: swarmhub_chef_server
# Recipe:: first_boot
#
# The first-boot unit: on each new instance, reconfigure the server, create
# the admin user and the organisation, and put their keys into SSM as
# SecureString. Enabled here; it disarms itself with a marker file.

include_recipe 'swarmhub_common::systemd'

server = node['swarmhub']['chef_server']
script = '/usr/local/sbin/swarmhub-chef-server-firstboot'

template script do
  source 'swarmhub-chef-server-firstboot.sh.erb'
  mode '0755'
  variables(
    ctl: server['flavors'][server['flavor']]['ctl'],
    config_dir: server['flavors'][server['flavor']]['config_dir'],
    config_name: server['flavors'][server['flavor']]['config_name'],
    tls_dir: server['tls_dir'],
    flavor: server['flavor'],
    organization: server['organization'],
    organization_full_name: server['organization_full_name'],
    admin_user: server['admin_user'],
    admin_email: server['admin_email'],
    ssm_prefix: server['ssm_prefix'],
    env_file: server['env_file'],
    config_file: server['config_file'],
    done_marker: server['done_marker']
  )
end

template '/etc/systemd/system/swarmhub-chef-server-firstboot.service' do
  source 'swarmhub-chef-server-firstboot.service.erb'
  mode '0644'
  variables(
    script: script,
    done_marker: server['done_marker']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

service 'swarmhub-chef-server-firstboot.service' do
  action :enable
end
