#
# Cookbook:: swarmhub_chef_server
# Recipe:: seal
#
# Installs the seal step packer/scripts/cleanup.sh runs after the in-image
# checks: it cleanses the server so no key, secret or data made at bake time
# is in the AMI.

template '/usr/local/sbin/swarmhub-seal' do
  source 'swarmhub-seal.sh.erb'
  mode '0755'
  variables(
    ctl: node['swarmhub']['chef_server']['flavors'][node['swarmhub']['chef_server']['flavor']]['ctl'],
    tls_dir: node['swarmhub']['chef_server']['tls_dir']
  )
end
