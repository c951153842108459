#
# Cookbook:: swarmhub_worker
# Recipe:: manager
#
# What the manager role needs from the one node image. User-data (terraform/
# modules/manager) takes over the role's interface and state volume, mounts
# EFS, gets the certificate, writes /etc/swarmhub/manager.env and the hub
# config, then enables these units, which are disabled here:
#   swarmhub-hub.service        swarm init or restore, join token to SSM, and
#                               the hub's network, secrets, proxy and hub
#                               services (swarmhub.aws.manager_up, run from
#                               the pre-loaded hub image)
#   swarmhub-lifecycle.service  the lifecycle handler, from the hub image

include_recipe 'swarmhub_common::systemd'

manager = node['swarmhub']['manager']
images = node['swarmhub']['images']

# certbot: the hub's Let's Encrypt certificate (HTTP-01, standalone, at boot).
package manager['packages']

directory ::File.dirname(manager['env_file']) do
  mode '0755'
end

# The bake names the images [notebook_image, hub_image] (swarmhub.aws.bake).
hub_image = images['hub'] || images['preload'][1]
notebook_image = images['notebook'] || images['preload'][0]
raise 'swarmhub.images: the bake must name the hub and notebook images' unless hub_image && notebook_image

template manager['images_env'] do
  source 'images.env.erb'
  mode '0644'
  variables(
    hub_image: hub_image,
    notebook_image: notebook_image
  )
end

cookbook_file manager['script'] do
  source 'swarmhub-manager-up'
  mode '0755'
end

template '/etc/systemd/system/swarmhub-hub.service' do
  source 'swarmhub-hub.service.erb'
  mode '0644'
  variables(
    script: manager['script'],
    env_file: manager['env_file'],
    images_env: manager['images_env']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

template '/etc/systemd/system/swarmhub-lifecycle.service' do
  source 'swarmhub-lifecycle.service.erb'
  mode '0644'
  variables(
    env_file: manager['env_file'],
    images_env: manager['images_env'],
    hub_config: manager['hub_config'],
    credentials_dir: manager['credentials_dir']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

# IMDS answers one hop on the manager: the hub's containers get the role's
# credentials from a file this host-side unit keeps fresh.
cookbook_file manager['credentials_script'] do
  source 'swarmhub-aws-credentials'
  mode '0755'
end

%w(service timer).each do |kind|
  template "/etc/systemd/system/swarmhub-aws-credentials.#{kind}" do
    source "swarmhub-aws-credentials.#{kind}.erb"
    mode '0644'
    variables(script: manager['credentials_script'])
    notifies :run, 'execute[systemctl daemon-reload]', :immediately
  end
end

# Port 80 of a hub with a domain: ACME challenges and the redirect to https.
# The webroot is baked: the unit's ReadWritePaths= names it, and systemd
# refuses to start a unit whose ReadWritePaths= does not exist.
directory manager['acme_webroot'] do
  mode '0755'
end

cookbook_file manager['http_script'] do
  source 'swarmhub-http-redirect'
  mode '0755'
end

template '/etc/systemd/system/swarmhub-http-redirect.service' do
  source 'swarmhub-http-redirect.service.erb'
  mode '0644'
  variables(
    script: manager['http_script'],
    env_file: manager['env_file'],
    webroot: manager['acme_webroot']
  )
  notifies :run, 'execute[systemctl daemon-reload]', :immediately
end

# The hub's set-up again every 5 minutes: a secret changed in SSM reaches it.
%w(service timer).each do |kind|
  template "/etc/systemd/system/swarmhub-hub-sync.#{kind}" do
    source "swarmhub-hub-sync.#{kind}.erb"
    mode '0644'
    variables(env_file: manager['env_file'])
    notifies :run, 'execute[systemctl daemon-reload]', :immediately
  end
end

%w(swarmhub-hub.service swarmhub-lifecycle.service swarmhub-http-redirect.service
   swarmhub-aws-credentials.service swarmhub-aws-credentials.timer
   swarmhub-hub-sync.service swarmhub-hub-sync.timer).each do |unit|
  service unit do
    action :disable
  end
end
