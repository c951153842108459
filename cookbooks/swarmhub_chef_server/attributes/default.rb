# Which server: 'cinc' (Cinc Server, the default: no licence to accept) or
# 'chef' (Chef Infra Server). The bake sets the flavour and the package it
# installs (URL and SHA-256) from aws.ami in swarmhub.yaml; a package without
# a SHA-256 is refused.
default['swarmhub']['chef_server']['flavor'] = 'cinc'
default['swarmhub']['chef_server']['packages']['cinc']['name'] = 'cinc-server-core'
default['swarmhub']['chef_server']['packages']['cinc']['url'] = ''
default['swarmhub']['chef_server']['packages']['cinc']['sha256'] = ''
default['swarmhub']['chef_server']['packages']['chef']['name'] = 'chef-server-core'
default['swarmhub']['chef_server']['packages']['chef']['url'] = ''
default['swarmhub']['chef_server']['packages']['chef']['sha256'] = ''

# Each flavour has its own control command, configuration directory and
# configuration file name (Cinc Server's rebranding: cinc-server-ctl reads
# /etc/cinc-project/cinc-server.rb; a chef-server.rb there would be ignored).
default['swarmhub']['chef_server']['flavors']['cinc']['ctl'] = '/usr/bin/cinc-server-ctl'
default['swarmhub']['chef_server']['flavors']['cinc']['config_dir'] = '/etc/cinc-project'
default['swarmhub']['chef_server']['flavors']['cinc']['config_name'] = 'cinc-server.rb'
default['swarmhub']['chef_server']['flavors']['chef']['ctl'] = '/usr/bin/chef-server-ctl'
default['swarmhub']['chef_server']['flavors']['chef']['config_dir'] = '/etc/opscode'
default['swarmhub']['chef_server']['flavors']['chef']['config_name'] = 'chef-server.rb'

# Made at first boot, never at bake; the keys go to SSM under ssm_prefix
# (<prefix>/admin-key, <prefix>/validator-key) as SecureString.
default['swarmhub']['chef_server']['organization'] = 'swarmhub'
default['swarmhub']['chef_server']['organization_full_name'] = 'swarmhub'
default['swarmhub']['chef_server']['admin_user'] = 'swarmhub-admin'
default['swarmhub']['chef_server']['admin_email'] = 'swarmhub-admin@example.invalid'
default['swarmhub']['chef_server']['ssm_prefix'] = '/swarmhub/chef-server'

# Written by user-data (AWS_DEFAULT_REGION, SWARMHUB_CHEF_API_FQDN, overrides).
default['swarmhub']['chef_server']['env_file'] = '/etc/swarmhub/chef-server.env'
default['swarmhub']['chef_server']['config_file'] = '/etc/swarmhub/chef-server.rb'
default['swarmhub']['chef_server']['done_marker'] = '/var/lib/swarmhub/chef-server-initialized'
# The server's TLS certificate and key, made at first boot with this
# instance's private address and name as subject alternative names, so the
# nodes verify it by the address they use; the certificate (not the key) goes
# to SSM as <ssm_prefix>/tls-cert, which the nodes pin (decision 0015).
default['swarmhub']['chef_server']['tls_dir'] = '/etc/swarmhub/chef-server-tls'
