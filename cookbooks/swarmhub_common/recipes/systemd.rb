#
# Cookbook:: swarmhub_common
# Recipe:: systemd
#
# The one daemon-reload that unit templates notify after they change.

execute 'systemctl daemon-reload' do
  action :nothing
end
