variable "project_id" {
  type        = string
  description = "GCP project."
}

variable "region" {
  type        = string
  description = "Region of the instance."
}

variable "name" {
  type        = string
  description = "Prefix of the instance name."
}

variable "labels" {
  type        = map(string)
  description = "Labels of the instance."
}

variable "network_id" {
  type        = string
  description = "VPC the instance is reached from."
}

variable "settings" {
  type = object({
    memory_size_gb     = number
    tier               = string
    version            = string
    transit_encryption = bool
  })
  description = "Size, tier, Redis version and TLS."
}
