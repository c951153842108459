#
# Cookbook:: swarmhub_worker
# Recipe:: images
#
# Pre-load the notebook and hub images so no node pulls on its way to
# capacity. Images in ECR are pulled with the build instance's role; the
# registry login is removed again so no credential stays in the image.

images = node['swarmhub']['images']['preload']
raise 'swarmhub.images.preload is empty: the bake must name the notebook and hub images' if images.empty?

ecr_registries = images.filter_map { |ref| ref[%r{\A(\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com)/}, 1] }.uniq

ecr_registries.each do |registry|
  region = registry.split('.')[3]
  execute "log in to #{registry}" do
    command "aws ecr get-login-password --region #{region} | docker login --username AWS --password-stdin #{registry}"
    sensitive true
  end
end

images.each do |ref|
  execute "pull #{ref}" do
    command ['docker', 'pull', '--quiet', ref]
    not_if { shell_out('docker', 'image', 'inspect', ref).exitstatus.zero? }
  end
end

ecr_registries.each do |registry|
  execute "log out of #{registry}" do
    command ['docker', 'logout', registry]
  end
end
