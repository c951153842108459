#
# Cookbook:: swarmhub_chef_server
# Recipe:: install
#
# The server package, from a pinned URL, checked against a pinned SHA-256.

server = node['swarmhub']['chef_server']
flavor = server['flavor']
package_info = server['packages'][flavor]
raise "swarmhub.chef_server.flavor is '#{flavor}': use cinc or chef" if package_info.nil?

%w(url sha256).each do |key|
  raise "swarmhub.chef_server.packages.#{flavor}.#{key} is not set" if package_info[key].to_s.empty?
end

deb = ::File.join(Chef::Config[:file_cache_path], ::File.basename(package_info['url']))

remote_file deb do
  source package_info['url']
  checksum package_info['sha256']
  mode '0644'
end

dpkg_package package_info['name'] do
  source deb
end
