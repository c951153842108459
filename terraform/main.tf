# The swarmhub fleet: network, homes, secrets, roles, the manager (hub), the
# worker group and optionally the Chef Server and the hub's DNS record.
# Applied by `python pipeline.py deploy --target aws`; see README.md.

locals {
  tags = merge(var.tags, { "swarmhub:name" = var.name, "managed-by" = "swarmhub" })
  # Named here because two modules need it: the workers create the group,
  # the manager's policy may change only this group.
  worker_asg_name = "${var.name}-workers"
  efs_mount       = "/srv/swarmhub/efs"

  # What the Chef Server's first boot puts into SSM (the bake renders the
  # same prefix into its AMI: /<name_prefix>/chef-server). Workers read the
  # validator key and the certificate, never the admin key.
  chef_ssm_prefix          = "/${var.name}/chef-server"
  chef_validator_parameter = "${local.chef_ssm_prefix}/validator-key"
  chef_tls_cert_parameter  = "${local.chef_ssm_prefix}/tls-cert"
  chef_server_url = (
    length(module.chef_server) > 0
    ? "https://${module.chef_server[0].private_ip}/organizations/${var.chef_organization}"
    : null
  )
}

module "secrets" {
  source = "./modules/secrets"

  name = var.name
  tags = local.tags
}

module "network" {
  source = "./modules/network"

  name               = var.name
  vpc_id             = var.vpc_id
  vpc_cidr           = var.vpc_cidr
  az_count           = var.az_count
  public_subnet_ids  = var.public_subnet_ids
  private_subnet_ids = var.private_subnet_ids
  hub_ingress_cidrs  = var.hub_ingress_cidrs
  # With a domain, port 80 serves only ACME challenges and the redirect.
  acme_http_from_anywhere = var.domain != null
  nat_gateway             = var.running
  kms_key_arn             = module.secrets.kms_key_arn
  tags                    = local.tags
}

module "iam" {
  source = "./modules/iam"

  name                               = var.name
  worker_asg_name                    = local.worker_asg_name
  lifecycle_queue_arn                = module.workers.lifecycle_queue_arn
  join_token_parameter_arn           = module.secrets.join_token_parameter_arn
  github_client_secret_parameter_arn = module.secrets.github_client_secret_parameter_arn
  kms_key_arn                        = module.secrets.kms_key_arn
  manager_network_interface_arn      = module.manager.network_interface_arn
  manager_state_volume_arn           = module.manager.state_volume_arn
  hub_config_object_arn              = module.manager.hub_config_object_arn
  chef_server_enabled                = var.chef_server_enabled
  chef_ssm_prefix                    = local.chef_ssm_prefix
  worker_chef_parameter_names        = var.chef_server_enabled ? [local.chef_validator_parameter, local.chef_tls_cert_parameter] : []
  tags                               = local.tags
}

module "storage" {
  source = "./modules/storage"

  name = var.name
  # The very subnets the workers run in: a mount target in every worker AZ.
  subnet_ids        = module.network.private_subnet_ids
  security_group_id = module.network.efs_security_group_id
  kms_key_arn       = module.secrets.kms_key_arn
  client_role_arns  = [module.iam.role_arns["manager"], module.iam.role_arns["worker"]]
  tags              = local.tags
}

module "manager" {
  source = "./modules/manager"

  name                                = var.name
  running                             = var.running
  ami_id                              = var.worker_ami_id
  instance_type                       = var.manager_instance_type
  state_volume_size                   = var.manager_state_volume_size
  subnet_id                           = module.network.private_subnet_ids[0]
  public_subnet_id                    = module.network.public_subnet_ids[0]
  internet_gateway_id                 = module.network.internet_gateway_id
  node_security_group_ids             = [module.network.nodes_security_group_id]
  hub_security_group_id               = module.network.hub_security_group_id
  instance_profile_name               = module.iam.instance_profile_names["manager"]
  kms_key_arn                         = module.secrets.kms_key_arn
  efs_id                              = module.storage.file_system_id
  efs_mount                           = local.efs_mount
  join_token_parameter_name           = module.secrets.join_token_parameter_name
  github_client_secret_parameter_name = module.secrets.github_client_secret_parameter_name
  worker_asg_name                     = local.worker_asg_name
  lifecycle_queue_url                 = module.workers.lifecycle_queue_url
  domain                              = var.domain
  letsencrypt_email                   = var.letsencrypt_email
  hub_config                          = var.hub_config
  tags                                = local.tags
}

module "workers" {
  source = "./modules/workers"

  asg_name                  = local.worker_asg_name
  running                   = var.running
  ami_id                    = var.worker_ami_id
  instance_type             = var.worker_instance_type
  root_volume_size          = var.worker_volume_size
  subnet_ids                = module.network.private_subnet_ids
  security_group_ids        = [module.network.nodes_security_group_id]
  instance_profile_name     = module.iam.instance_profile_names["worker"]
  min_size                  = var.running ? var.min_workers : 0
  max_size                  = var.running ? var.max_workers : 0
  warm_pool_size            = var.running ? var.warm_pool_size : 0
  manager_addr              = module.manager.swarm_addr
  join_token_parameter_name = module.secrets.join_token_parameter_name
  efs_id                    = module.storage.file_system_id
  efs_mount                 = local.efs_mount
  boot_deadline_seconds     = var.worker_boot_deadline_seconds
  # Enrollment with the Chef Server runs beside the join (null: none).
  chef_server_url               = local.chef_server_url
  chef_organization             = var.chef_organization
  chef_validator_parameter_name = local.chef_validator_parameter
  chef_tls_cert_parameter_name  = local.chef_tls_cert_parameter
  chef_enroll_deadline_seconds  = var.chef_enroll_deadline_seconds
  # Past the deadline if the handler is not up yet (a first deploy): the
  # hook's own timeout must not cut the node's retries short.
  lifecycle_heartbeat_timeout = min(7200, max(900, var.worker_boot_deadline_seconds + 300))
  tags                        = local.tags
}

module "chef_server" {
  source = "./modules/chef_server"
  # Kept (stopped) by `destroy` without --purge: it holds every node's
  # enrollment and its keys; the next deploy starts it again.
  count = var.chef_server_enabled ? 1 : 0

  running = var.running

  name                  = var.name
  ami_id                = var.chef_server_ami_id
  instance_type         = var.chef_server_instance_type
  subnet_id             = module.network.private_subnet_ids[0]
  security_group_ids    = [module.network.chef_server_security_group_id]
  instance_profile_name = module.iam.instance_profile_names["chef_server"]
  tags                  = local.tags
}

module "dns" {
  source = "./modules/dns"
  count  = var.domain != null && var.route53_zone_id != null ? 1 : 0

  zone_id = var.route53_zone_id
  domain  = var.domain
  address = module.manager.public_ip
}
