output "vpc_id" {
  description = "The VPC the fleet runs in."
  value       = local.vpc_id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = local.vpc_cidr
}

output "public_subnet_ids" {
  description = "Subnets routed to the internet gateway."
  value       = local.public_subnet_ids
}

output "private_subnet_ids" {
  description = "Subnets the manager, the workers and the chef server run in, one per AZ."
  value       = local.private_subnet_ids
}

output "hub_security_group_id" {
  description = "Security group of the hub's public interface (80/443)."
  value       = aws_security_group.hub.id
}

output "nodes_security_group_id" {
  description = "Security group of every swarm node (swarm ports among themselves)."
  value       = aws_security_group.nodes.id
}

output "efs_security_group_id" {
  description = "Security group of the EFS mount targets."
  value       = aws_security_group.efs.id
}

output "chef_server_security_group_id" {
  description = "Security group of the Chef Server."
  value       = aws_security_group.chef_server.id
}

output "internet_gateway_id" {
  description = "The internet gateway of the VPC made here (null in an existing VPC): Elastic IPs are associated after it."
  value       = local.create_vpc ? aws_internet_gateway.this[0].id : null
}
