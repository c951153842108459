variable "zone_id" {
  type        = string
  description = "Route53 hosted zone holding the hub's domain."
}

variable "domain" {
  type        = string
  description = "The hub's DNS name."
}

variable "address" {
  type        = string
  description = "The hub's Elastic IP the record points at."
}

variable "ttl" {
  type        = number
  default     = 300
  description = "TTL of the record in seconds."
}
