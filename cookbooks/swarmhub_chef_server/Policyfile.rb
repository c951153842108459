# Policyfile for the chef-server AMI (`cinc install` / `cinc export --archive`).
#
# No default_source: every cookbook is local, so the export needs no
# Supermarket and resolves the same on a laptop, in CI and offline.

name 'swarmhub_chef_server'

run_list 'swarmhub_chef_server::default'

cookbook 'swarmhub_chef_server', path: '.'
cookbook 'swarmhub_common', path: '../swarmhub_common'
