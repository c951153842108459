# The chef-server AMI: an optional Cinc (or Chef Infra) Server for the fleet.
image_name        = "chef-server"
image_description = "swarmhub Chef Server: Cinc Server installed, organisation made at first boot"
policy_name       = "swarmhub_chef_server"
root_volume_size  = 30
