variable "name" {
  type        = string
  description = "Name prefix of every resource (aws.name_prefix)."
}

variable "vpc_id" {
  type        = string
  default     = null
  description = "An existing VPC to use; null creates one. With it, public_subnet_ids and private_subnet_ids are required."
}

variable "vpc_cidr" {
  type        = string
  default     = "10.40.0.0/16"
  description = "CIDR of the VPC this module creates (ignored with vpc_id)."
}

variable "az_count" {
  type        = number
  default     = 2
  description = "Availability zones the created VPC spans; at least two so a lost zone leaves capacity."

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6."
  }
}

variable "public_subnet_ids" {
  type        = list(string)
  default     = []
  description = "With vpc_id: subnets with a route to an internet gateway, for the hub's address. One per AZ."
}

variable "private_subnet_ids" {
  type        = list(string)
  default     = []
  description = "With vpc_id: subnets with outbound internet (NAT), for the manager, workers and chef server. One per AZ, at least two."
}

variable "nat_gateway" {
  type        = bool
  default     = true
  description = "Whether the created VPC has its NAT gateway (off while the fleet is stopped, to stop paying for it)."
}

variable "hub_ingress_cidrs" {
  type        = list(string)
  default     = ["0.0.0.0/0"]
  description = "Who may reach the hub on 443 (and on 80 without a domain, where 80 is the hub itself)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the VPC flow log group."
}

variable "flow_log_retention_days" {
  type        = number
  default     = 365
  description = "Days the VPC flow logs are kept."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}

variable "acme_http_from_anywhere" {
  type        = bool
  default     = false
  description = "true with a domain: port 80 (the ACME HTTP-01 challenge and the redirect to https, nothing else) is open to everyone, as Let's Encrypt validates from its own addresses."
}
