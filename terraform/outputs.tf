# Read by `pipeline.py status` (terraform output -json). No secret here: the
# parameters are named, never read.

output "hub_url" {
  description = "Where the hub answers."
  value       = var.domain != null ? "https://${var.domain}" : "http://${module.manager.public_ip}"
}

output "hub_public_ip" {
  description = "The hub's Elastic IP (point the domain here without Route53)."
  value       = module.manager.public_ip
}

output "manager_private_ip" {
  description = "The manager role's fixed private address (workers join <it>:2377)."
  value       = module.manager.private_ip
}

output "manager_asg_name" {
  description = "The manager's Auto Scaling group of one (null while stopped)."
  value       = module.manager.autoscaling_group_name
}

output "worker_asg_name" {
  description = "The workers' Auto Scaling group the autoscaler steers (null while stopped)."
  value       = module.workers.autoscaling_group_name
}

output "lifecycle_queue_url" {
  description = "The SQS queue of the workers' lifecycle events."
  value       = module.workers.lifecycle_queue_url
}

output "join_token_parameter" {
  description = "Name of the SSM SecureString with the swarm join token."
  value       = module.secrets.join_token_parameter_name
}

output "github_client_secret_parameter" {
  description = "Name of the SSM SecureString the operator puts the GitHub OAuth client secret into."
  value       = module.secrets.github_client_secret_parameter_name
}

output "efs_id" {
  description = "EFS file system with /home/<user>."
  value       = module.storage.file_system_id
}

output "manager_state_volume_id" {
  description = "EBS volume with the hub's state."
  value       = module.manager.state_volume_id
}

output "chef_server_private_ip" {
  description = "Private address of the Chef Server (null when disabled or stopped)."
  value       = one(module.chef_server[*].private_ip)
}

output "vpc_id" {
  description = "The VPC of the fleet."
  value       = module.network.vpc_id
}

output "manager_user_data_bytes" {
  description = "The manager's user-data as EC2 counts it (gzipped; EC2's limit is 16384)."
  value       = module.manager.user_data_bytes
}

output "hub_config_object" {
  description = "ARN of the S3 object with the hub's config, read by the manager at boot."
  value       = module.manager.hub_config_object_arn
}
