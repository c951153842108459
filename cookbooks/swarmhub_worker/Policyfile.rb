# Policyfile for the worker AMI (`cinc install` / `cinc export --archive`).
#
# No default_source: every cookbook is local, so the export needs no
# Supermarket and resolves the same on a laptop, in CI and offline.

name 'swarmhub_worker'

run_list 'swarmhub_worker::default'

cookbook 'swarmhub_worker', path: '.'
cookbook 'swarmhub_common', path: '../swarmhub_common'
