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
  description = "User labels of the instance."
}

variable "network_id" {
  type        = string
  description = "VPC the private IP lives in (with private services access)."
}

variable "settings" {
  type = object({
    tier              = string
    version           = string
    disk_size_gb      = number
    high_availability = bool
  })
  description = "Machine tier, PostgreSQL version, disk and availability."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy the instance."
}
