#
# Cookbook:: swarmhub_worker
# Recipe:: efs
#
# The EFS mount helper with TLS and IAM (amazon-efs-utils, built here from
# the pinned upstream commit: AWS publishes no .deb for Ubuntu), and the
# boot unit that mounts the homes on a worker. The file system id is known
# only at deploy time: the unit reads it from the join env file user-data
# writes, and does nothing without it.

include_recipe 'swarmhub_common::systemd'
include_recipe 'swarmhub_worker::nfs'

efs_utils = node['swarmhub']['efs_utils']
efs = node['swarmhub']['efs']
version = efs_utils['version']
unless efs_utils['commit'].to_s.match?(/\A[0-9a-f]{40}\z/)
  raise "swarmhub.efs_utils.commit must be the full commit id of #{efs_utils['tag']}: " \
        "git ls-remote #{efs_utils['repository']} refs/tags/#{efs_utils['tag']}"
end

package efs_utils['runtime_packages']
package efs_utils['build_packages']

cache = Chef::Config[:file_cache_path]
source_dir = "#{cache}/efs-utils-#{version}"
deb = "#{source_dir}/build/amazon-efs-utils-#{version}-1_all.deb"

# A full commit id as the revision: git checks out exactly that tree.
git source_dir do
  repository efs_utils['repository']
  revision efs_utils['commit']
  enable_checkout false
  action :checkout
end

# Belt and braces: what is checked out is the pinned commit, and that commit
# is the tag's (a moved tag fails the bake instead of building something else).
execute "verify efs-utils #{efs_utils['tag']} is #{efs_utils['commit']}" do
  command ['sh', '-c', 'test "$(git rev-parse HEAD)" = "$1" && ' \
                       'test "$(git ls-remote origin "refs/tags/$2" | cut -f1)" = "$1"',
           'verify', efs_utils['commit'], efs_utils['tag']]
  cwd source_dir
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
