variable "name" {
  type        = string
  description = "Name prefix of every resource; the parameters live under /<name>/."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}
