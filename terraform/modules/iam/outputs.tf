output "role_arns" {
  description = "Role ARN per node kind (worker, manager, chef_server when enabled)."
  value       = { for kind, role in aws_iam_role.this : kind => role.arn }
}

output "instance_profile_names" {
  description = "Instance profile name per node kind."
  value       = { for kind, profile in aws_iam_instance_profile.this : kind => profile.name }
}

output "worker_asg_arn_pattern" {
  description = "The ASG ARN (with a wildcard for its id) the manager may change."
  value       = local.worker_asg_arn
}
