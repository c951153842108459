output "file_system_id" {
  description = "Id of the EFS file system holding /home/<user>."
  value       = aws_efs_file_system.this.id
}

output "file_system_arn" {
  description = "ARN of the EFS file system."
  value       = aws_efs_file_system.this.arn
}

output "mount_target_subnet_ids" {
  description = "Subnets with a mount target (the same as the workers' subnets)."
  value       = aws_efs_mount_target.this[*].subnet_id
}
