output "private_ip" {
  description = "Private address of the Chef Server (https://<it>/organizations/...)."
  value       = aws_instance.this.private_ip
}

output "instance_id" {
  description = "Instance id of the Chef Server (for SSM sessions)."
  value       = aws_instance.this.id
}
