#
# Cookbook:: swarmhub_common
# Recipe:: awscli
#
# The AWS CLI in a virtualenv of its own, so it never clashes with the
# system Python and the same pinned release is on every node.

awscli = node['swarmhub']['awscli']
venv = awscli['venv']

package %w(python3-venv ca-certificates curl)

directory ::File.dirname(venv) do
  recursive true
end

execute 'create the awscli virtualenv' do
  command ['python3', '-m', 'venv', venv]
  creates "#{venv}/bin/python"
end

execute "install awscli #{awscli['version']}" do
  command ["#{venv}/bin/pip", 'install', '--no-cache-dir', "awscli==#{awscli['version']}"]
  not_if "#{venv}/bin/aws --version 2>&1 | grep -q '^aws-cli/#{awscli['version']} '"
end

link '/usr/local/bin/aws' do
  to "#{venv}/bin/aws"
end
