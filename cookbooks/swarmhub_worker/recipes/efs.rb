#
# Cookbook:: swarmhub_worker
# Recipe:: efs
#
# The EFS mount helper with TLS and IAM (amazon-efs-utils, built here from
# the pinned upstream release: AWS publishes no .deb for Ubuntu), and the
# boot unit that mounts the homes on a worker. The file system id is known
# only at deploy time: the unit reads it from the join env file user-data
# writes, and does nothing without it.

include_recipe 'swarmhub_common::systemd'
include_recipe 'swarmhub_worker::nfs'

efs_utils = node['swarmhub']['efs_utils']
efs = node['swarmhub']['efs']
version = efs_utils['version']
if efs_utils['source_sha256'].match?(/\A0+\z/)
  raise "swarmhub.efs_utils.source_sha256 is unset: verify the checksum of #{efs_utils['source_url']}"
end

package efs_utils['runtime_packages']
package efs_utils['build_packages']

cache = Chef::Config[:file_cache_path]
tarball = "#{cache}/efs-utils-#{version}.tar.gz"
source_dir = "#{cache}/efs-utils-#{version}"
deb = "#{source_dir}/build/amazon-efs-utils-#{version}-1_all.deb"

remote_file tarball do
  source efs_utils['source_url']
  checksum efs_utils['source_sha256']
  mode '0644'
end

execute "unpack efs-utils #{version}" do
  command ['tar', '-xzf', tarball, '-C', cache]
  creates source_dir
end

execute "build amazon-efs-utils #{version}" do
  command ['./build-deb.sh']
  cwd source_dir
  creates deb
end

dpkg_package 'amazon-efs-utils' do
  source deb
end

# The build tree is not part of the image.
directory source_dir do
  recursive true
  action :delete
end

file tarball do
  action :delete
end

cookbook_file efs['script'] do
  source 'swarmhub-efs-mount'
  mode '0755'
end

template '/etc/systemd/system/swarmhub-efs.service' do
  source 'swarmhub-efs.service.erb'
  mode '0644'
  variables(
    script: efs['script'],
    env_file: node['swarmhub']['join']['env_file'],
    timeout: efs['timeout']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

# Enabled: at a reboot it mounts before docker.service; at first boot the
# env file is not there yet, and swarmhub-join.service pulls it in.
service 'swarmhub-efs.service' do
  action :enable
end
