variable "name" {
  type        = string
  description = "Name prefix of every resource."
}

variable "subnet_ids" {
  type        = list(string)
  description = "The subnets the swarm nodes run in, one per AZ: a mount target goes into each."
}

variable "security_group_id" {
  type        = string
  description = "Security group of the mount targets (NFS from the swarm nodes only)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the file system at rest."
}

variable "client_role_arns" {
  type        = list(string)
  description = "IAM roles allowed to mount (over TLS, with IAM auth): the manager's and the workers'."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}
