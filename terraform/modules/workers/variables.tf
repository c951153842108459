variable "asg_name" {
  type        = string
  description = "Name of the Auto Scaling group (also the prefix of its queue, hooks and role); the manager's policy names it."
}

variable "ami_id" {
  type        = string
  description = "The worker AMI recorded by `pipeline.py bake`."
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of a worker."
}

variable "root_volume_size" {
  type        = number
  default     = 50
  description = "Root volume size in GiB (images are pre-loaded there)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets the group spans, one per AZ (the same ones with an EFS mount target)."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of a worker."
}

variable "instance_profile_name" {
  type        = string
  description = "Instance profile of the worker role."
}

variable "min_size" {
  type        = number
  description = "Fewest workers; the autoscaler never goes below."
}

variable "max_size" {
  type        = number
  description = "Most workers; the autoscaler never goes above."
}

variable "warm_pool_size" {
  type        = number
  default     = 0
  description = "Pre-initialised stopped instances kept ready (0: no warm pool)."
}

variable "warm_pool_state" {
  type        = string
  default     = "Stopped"
  description = "State of the warm pool's instances: Stopped, Running or Hibernated."

  validation {
    condition     = contains(["Stopped", "Running", "Hibernated"], var.warm_pool_state)
    error_message = "warm_pool_state must be Stopped, Running or Hibernated."
  }
}

variable "manager_addr" {
  type        = string
  description = "The manager's stable private address, host:2377, that workers join."
}

variable "join_token_parameter_name" {
  type        = string
  description = "Name (not value) of the SSM SecureString with the join token."
}

variable "efs_id" {
  type        = string
  description = "EFS file system with the homes, mounted with TLS by the AMI's mount unit."
}

variable "efs_mount" {
  type        = string
  default     = "/srv/swarmhub/efs"
  description = "Where nodes mount the EFS file system; homes are <efs_mount>/home/<user>."
}

variable "boot_deadline_seconds" {
  type        = number
  default     = 600
  description = "Seconds after boot a worker keeps retrying its EFS mount and its join: the lifecycle handler's launch_timeout, after which it ABANDONs a node that is not Ready."

  validation {
    condition     = var.boot_deadline_seconds >= 60 && var.boot_deadline_seconds <= 7200
    error_message = "boot_deadline_seconds must be between 60 and 7200 (the lifecycle hook's longest heartbeat timeout)."
  }
}

variable "chef_server_url" {
  type        = string
  default     = null
  description = "https://<Chef Server's private address>/organizations/<org>, which workers enroll with; null: no enrollment."
}

variable "chef_organization" {
  type        = string
  default     = "swarmhub"
  description = "The Chef Server's organisation (its validator client is <org>-validator)."
}

variable "chef_validator_parameter_name" {
  type        = string
  default     = ""
  description = "Name (not value) of the SSM SecureString with the organisation's validator key."
}

variable "chef_tls_cert_parameter_name" {
  type        = string
  default     = ""
  description = "Name of the SSM String with the Chef Server's TLS certificate, which workers pin."
}

variable "chef_enroll_deadline_seconds" {
  type        = number
  default     = 1800
  description = "Seconds a worker keeps trying to enroll before it gives up with one log line."
}

variable "lifecycle_heartbeat_timeout" {
  type        = number
  default     = 900
  description = "Seconds a lifecycle action waits for the handler before the default result."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}

variable "running" {
  type        = bool
  default     = true
  description = "false removes the group and terminates its workers (the launch template and the queue stay)."
}
