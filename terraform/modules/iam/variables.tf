variable "name" {
  type        = string
  description = "Name prefix of every resource."
}

variable "worker_asg_name" {
  type        = string
  description = "Name of the workers' Auto Scaling group: the only group the manager may change."
}

variable "lifecycle_queue_arn" {
  type        = string
  description = "ARN of the SQS queue the ASG lifecycle hooks publish to; the manager reads and deletes its messages."
}

variable "join_token_parameter_arn" {
  type        = string
  description = "ARN of the SSM SecureString with the swarm join token: workers read it, the manager writes it."
}

variable "github_client_secret_parameter_arn" {
  type        = string
  description = "ARN of the SSM SecureString with the GitHub OAuth client secret; the manager (hub) reads it."
}

variable "kms_key_arn" {
  type        = string
  description = "The fleet's KMS key (SSM parameters, state volume)."
}

variable "manager_network_interface_arn" {
  type        = string
  description = "ARN of the network interface that carries the hub's addresses; the manager attaches it at boot."
}

variable "manager_state_volume_arn" {
  type        = string
  description = "ARN of the EBS volume with the hub's state; the manager attaches it at boot."
}

variable "hub_config_object_arn" {
  type        = string
  description = "ARN of the S3 object with the hub's config (the manager reads it at boot)."
}

variable "chef_server_enabled" {
  type        = bool
  default     = true
  description = "Whether to create the chef server's role."
}

variable "chef_ssm_prefix" {
  type        = string
  default     = null
  description = "SSM path the Chef Server's first boot writes its keys and certificate under (/<name>/chef-server); null: /<name>/chef-server."
}

variable "worker_chef_parameter_names" {
  type        = list(string)
  default     = []
  description = "SSM parameters a worker reads to enroll with the Chef Server (validator key, certificate); only with chef_server_enabled."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}
