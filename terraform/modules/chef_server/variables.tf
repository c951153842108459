variable "name" {
  type        = string
  description = "Name prefix of every resource."
}

variable "ami_id" {
  type        = string
  description = "The chef-server AMI recorded by `pipeline.py bake`."
}

variable "instance_type" {
  type        = string
  default     = "t3.large"
  description = "EC2 instance type of the Chef Server (it wants 8 GiB of memory)."
}

variable "root_volume_size" {
  type        = number
  default     = 40
  description = "Root volume size in GiB."
}

variable "subnet_id" {
  type        = string
  description = "Private subnet of the Chef Server."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the Chef Server (443 from the swarm nodes only)."
}

variable "instance_profile_name" {
  type        = string
  description = "Instance profile of the chef server role (SSM sessions only)."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}

variable "running" {
  type        = bool
  default     = true
  description = "false stops the instance (destroy without --purge) and keeps it with its data; true starts it."
}
