#
# Cookbook:: swarmhub_worker
# Recipe:: images
#
# Pre-load the notebook and hub images so no node pulls on its way to
# capacity, and write down which image ids this AMI carries
# (/etc/swarmhub/images.json: the manager checks them at boot, the engine
# label names them to the spawner's placement).
#
# By default the images are the local bake's, uploaded as `docker save`
# archives (swarmhub.images.archives: name, ref, id, file, sha256): each
# archive's SHA-256 is checked before `docker load`, and the loaded image's
# id after it. Images an operator names in a registry of theirs
# (swarmhub.images.preload) are pulled; for ECR with the build instance's
# role, and the registry login is removed again so no credential stays in
# the image. See docs/decisions/0011-*.md.

require 'digest'
require 'json'

images = node['swarmhub']['images']
archives = images['archives'] || []
preload = images['preload'] || []
if archives.empty? && preload.empty?
  raise 'swarmhub.images: neither archives nor preload: the bake must name the notebook and hub images'
end

image_id = lambda do |ref|
  out = shell_out('docker', 'image', 'inspect', '--format', '{{.Id}}', ref)
  out.exitstatus.zero? ? out.stdout.strip : nil
end

archives.each do |archive|
  ruby_block "check the SHA-256 of #{archive['file']}" do
    block do
      actual = Digest::SHA256.file(archive['file']).hexdigest
      unless actual == archive['sha256']
        raise "#{archive['file']}: SHA-256 #{actual}, the bake recorded #{archive['sha256']}"
      end
    end
    not_if { image_id.call(archive['ref']) == archive['id'] }
  end

  execute "docker load #{archive['ref']}" do
    command ['docker', 'load', '--quiet', '--input', archive['file']]
    not_if { image_id.call(archive['ref']) == archive['id'] }
  end

  ruby_block "check #{archive['ref']} is #{archive['id']}" do
    block do
      loaded = image_id.call(archive['ref'])
      unless loaded == archive['id']
        raise "#{archive['ref']} loaded as #{loaded.inspect}, the bake recorded #{archive['id']}"
      end
    end
  end
end

ecr_registries = preload.filter_map { |ref| ref[%r{\A(\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com)/}, 1] }.uniq

ecr_registries.each do |registry|
  region = registry.split('.')[3]
  execute "log in to #{registry}" do
    command "aws ecr get-login-password --region #{region} | docker login --username AWS --password-stdin #{registry}"
    sensitive true
  end
end

preload.each do |ref|
  execute "pull #{ref}" do
    command ['docker', 'pull', '--quiet', ref]
    not_if { image_id.call(ref) }
  end
end

ecr_registries.each do |registry|
  execute "log out of #{registry}" do
    command ['docker', 'logout', registry]
  end
end

# The record of what this AMI carries: {"hub": {"ref", "id"}, "notebook": {...}}.
directory '/etc/swarmhub' do
  mode '0755'
end

file '/etc/swarmhub/images.json' do
  mode '0644'
  content(lazy do
    record = %w(hub notebook).to_h do |name|
      ref = images[name]
      id = image_id.call(ref)
      raise "swarmhub.images.#{name}: #{ref.inspect} is not in the engine" unless id

      [name, { 'ref' => ref, 'id' => id }]
    end
    "#{JSON.pretty_generate(record)}\n"
  end)
end
