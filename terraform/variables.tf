# Every value comes from swarmhub.yaml and the bake state, rendered by
# `python pipeline.py deploy --target aws` into <name>.auto.tfvars.json.
# None of them is a secret.

variable "region" {
  type        = string
  description = "AWS region of the fleet (aws.region)."
}

variable "name" {
  type        = string
  description = "Name prefix of every resource (aws.name_prefix)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,23}$", var.name))
    error_message = "name must be lower case letters, digits and dashes, at most 24 characters."
  }
}

variable "running" {
  type        = bool
  default     = true
  description = "false stops the fleet (no instances, no NAT gateway) and keeps homes, hub state, addresses and secrets."
}

variable "worker_ami_id" {
  type        = string
  description = "The worker AMI (both roles) recorded by bake."
}

variable "chef_server_ami_id" {
  type        = string
  default     = null
  description = "The chef-server AMI recorded by bake; required when chef_server_enabled."
}

variable "worker_instance_type" {
  type        = string
  default     = "m6i.xlarge"
  description = "EC2 instance type of a worker."
}

variable "manager_instance_type" {
  type        = string
  default     = "t3.large"
  description = "EC2 instance type of the manager (the hub node)."
}

variable "chef_server_instance_type" {
  type        = string
  default     = "t3.large"
  description = "EC2 instance type of the Chef Server."
}

variable "min_workers" {
  type        = number
  default     = 1
  description = "Fewest workers the ASG keeps."
}

variable "max_workers" {
  type        = number
  default     = 10
  description = "Most workers the ASG may run."
}

variable "warm_pool_size" {
  type        = number
  default     = 0
  description = "Stopped, pre-initialised workers kept ready (0: no warm pool)."
}

variable "worker_volume_size" {
  type        = number
  default     = 50
  description = "Root volume of a worker in GiB."
}

variable "manager_state_volume_size" {
  type        = number
  default     = 20
  description = "The manager's state volume in GiB (swarm raft, hub database, certificates)."
}

variable "domain" {
  type        = string
  default     = null
  description = "The hub's DNS name; enables HTTPS with Let's Encrypt. null: plain HTTP on the Elastic IP."
}

variable "route53_zone_id" {
  type        = string
  default     = null
  description = "Route53 zone for the hub's record; null: the operator points the domain at hub_public_ip."
}

variable "letsencrypt_email" {
  type        = string
  default     = null
  description = "Contact address of the Let's Encrypt account (optional)."
}

variable "vpc_id" {
  type        = string
  default     = null
  description = "An existing VPC; null creates one."
}

variable "vpc_cidr" {
  type        = string
  default     = "10.40.0.0/16"
  description = "CIDR of the created VPC."
}

variable "az_count" {
  type        = number
  default     = 2
  description = "AZs of the created VPC (at least two)."
}

variable "public_subnet_ids" {
  type        = list(string)
  default     = []
  description = "With vpc_id: public subnets, one per AZ, in the same AZ order as private_subnet_ids."
}

variable "private_subnet_ids" {
  type        = list(string)
  default     = []
  description = "With vpc_id: private subnets with NAT, one per AZ, at least two."
}

variable "hub_ingress_cidrs" {
  type        = list(string)
  default     = ["0.0.0.0/0"]
  description = "Who may reach the hub on 80/443."
}

variable "chef_server_enabled" {
  type        = bool
  default     = true
  description = "Whether to run the Chef Server (and enroll every worker with it)."
}

variable "chef_organization" {
  type        = string
  default     = "swarmhub"
  description = "The Chef Server's organisation, as baked into the chef-server AMI (aws.ami.chef_organization); workers enroll into it."
}

variable "chef_enroll_deadline_seconds" {
  type        = number
  default     = 1800
  description = "Seconds a worker keeps trying to enroll with the Chef Server before it gives up (the join never waits for it)."

  validation {
    condition     = var.chef_enroll_deadline_seconds >= 60 && var.chef_enroll_deadline_seconds <= 7200
    error_message = "chef_enroll_deadline_seconds must be between 60 and 7200."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Extra tags on every resource."
}

variable "worker_boot_deadline_seconds" {
  type        = number
  default     = 600
  description = "Seconds after boot a worker retries its EFS mount and join (lifecycle.launch_timeout)."
}

variable "hub_config" {
  type        = string
  default     = "{}"
  description = "swarmhub.yaml as validated JSON (no secrets in it): the hub's settings on the manager."
}
