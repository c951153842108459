# AWS CLI v1 from PyPI, pinned: Ubuntu 24.04 has no awscli package, and the
# join script only needs `aws ssm get-parameter`.
default['swarmhub']['awscli']['version'] = '1.44.87'
default['swarmhub']['awscli']['venv'] = '/opt/swarmhub/awscli'
