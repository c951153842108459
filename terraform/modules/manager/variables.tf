variable "name" {
  type        = string
  description = "Name prefix of every resource."
}

variable "ami_id" {
  type        = string
  description = "The worker AMI (one AMI serves both roles; user-data picks manager)."
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the manager."
}

variable "root_volume_size" {
  type        = number
  default     = 50
  description = "Root volume size in GiB."
}

variable "state_volume_size" {
  type        = number
  default     = 20
  description = "Size in GiB of the state volume that follows the role (swarm raft, hub database, certificates)."
}

variable "subnet_id" {
  type        = string
  description = "Private subnet the manager instance runs in; fixes its AZ (the state volume's)."
}

variable "public_subnet_id" {
  type        = string
  description = "Public subnet in the same AZ for the role's network interface (the hub's Elastic IP)."
}

variable "node_security_group_ids" {
  type        = list(string)
  description = "Security groups of a swarm node (the instance's primary interface and the role's interface)."
}

variable "hub_security_group_id" {
  type        = string
  description = "Security group of the hub's public face (80/443), on the role's interface only."
}

variable "instance_profile_name" {
  type        = string
  description = "Instance profile of the manager role."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the state volume and the join token parameter."
}

variable "efs_id" {
  type        = string
  description = "EFS file system with the homes."
}

variable "efs_mount" {
  type        = string
  default     = "/srv/swarmhub/efs"
  description = "Where the manager mounts the EFS file system."
}

variable "state_dir" {
  type        = string
  default     = "/var/lib/swarmhub"
  description = "Where the state volume is mounted; the hub database lives here, never on NFS."
}

variable "join_token_parameter_name" {
  type        = string
  description = "Name of the SSM SecureString the manager writes the join token to."
}

variable "github_client_secret_parameter_name" {
  type        = string
  description = "Name of the SSM SecureString the hub reads the GitHub OAuth client secret from."
}

variable "worker_asg_name" {
  type        = string
  description = "The workers' Auto Scaling group the autoscaler steers."
}

variable "lifecycle_queue_url" {
  type        = string
  description = "The SQS queue the lifecycle handler consumes."
}

variable "domain" {
  type        = string
  default     = null
  description = "The hub's DNS name, for its Let's Encrypt certificate; null serves plain HTTP on the Elastic IP."
}

variable "letsencrypt_email" {
  type        = string
  default     = null
  description = "Contact address for the Let's Encrypt account (optional)."
}

variable "hub_config" {
  type        = string
  default     = "{}"
  description = "The swarmhub config as JSON (validated swarmhub.yaml, no secret in it); the manager renders the hub's settings from it. \"{}\" runs the defaults."

  validation {
    condition     = can(jsondecode(var.hub_config))
    error_message = "hub_config must be a JSON document."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}

variable "running" {
  type        = bool
  default     = true
  description = "false stops the manager (no instance) but keeps its interface, address and state volume."
}

variable "internet_gateway_id" {
  type        = string
  default     = null
  description = "The VPC's internet gateway (null: an existing VPC's, already there); the Elastic IP is associated only after it exists and removed before it."
}
