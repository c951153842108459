#
# Cookbook:: swarmhub_chef_server
# Recipe:: configure
#
# The server's configuration, kept under /etc/swarmhub so it survives the
# seal step's cleanse, and one reconfigure so the bake-time checks have a
# running server to ask.

server = node['swarmhub']['chef_server']

directory ::File.dirname(server['config_file']) do
  mode '0755'
end

template server['config_file'] do
  source 'chef-server.rb.erb'
  mode '0644'
  variables(
    tls_cert: "#{server['tls_dir']}/server.crt",
    tls_key: "#{server['tls_dir']}/server.key"
  )
end

flavor = server['flavors'][server['flavor']]

directory flavor['config_dir'] do
  mode '0755'
end

link "#{flavor['config_dir']}/#{flavor['config_name']}" do
  to server['config_file']
end

reconfigure = [flavor['ctl'], 'reconfigure']
reconfigure << '--chef-license=accept' if server['flavor'] == 'chef'

execute 'reconfigure for the bake-time checks' do
  command reconfigure
  not_if { ::File.exist?("#{flavor['config_dir']}/pivotal.pem") }
end
