output "public_ip" {
  description = "The hub's Elastic IP."
  value       = aws_eip.this.public_ip
}

output "private_ip" {
  description = "The manager role's fixed private address (what workers join)."
  value       = aws_network_interface.this.private_ip
}

output "swarm_addr" {
  description = "host:port workers join."
  value       = "${aws_network_interface.this.private_ip}:2377"
}

output "network_interface_arn" {
  description = "ARN of the role's network interface."
  value       = aws_network_interface.this.arn
}

output "state_volume_id" {
  description = "Id of the EBS volume with the hub's state."
  value       = aws_ebs_volume.state.id
}

output "state_volume_arn" {
  description = "ARN of the EBS volume with the hub's state."
  value       = aws_ebs_volume.state.arn
}

output "autoscaling_group_name" {
  description = "Name of the manager's Auto Scaling group of one."
  value       = one(aws_autoscaling_group.this[*].name)
}

output "hub_config_object_arn" {
  description = "ARN of the S3 object with the hub's config (the manager reads it at boot)."
  value       = "${aws_s3_bucket.config.arn}/${aws_s3_object.hub_config.key}"
}

output "hub_config_bucket_arn" {
  description = "ARN of the bucket holding the hub's config."
  value       = aws_s3_bucket.config.arn
}

output "user_data_bytes" {
  description = "Size of the manager's user-data as EC2 counts it, gzipped (limit: 16384)."
  value       = local.user_data_bytes
}
