variable "project_id" {
  type        = string
  description = "GCP project."
}

variable "region" {
  type        = string
  description = "Region of the subnetwork, router and NAT."
}

variable "name" {
  type        = string
  description = "Prefix of the resource names."
}

variable "nodes_cidr" {
  type        = string
  description = "Primary range of the nodes' subnetwork."
  default     = "10.10.0.0/20"
  validation {
    condition     = can(cidrhost(var.nodes_cidr, 0))
    error_message = "nodes_cidr must be a CIDR."
  }
}

variable "pods_cidr" {
  type        = string
  description = "Secondary range of the pods."
  default     = "10.20.0.0/14"
  validation {
    condition     = can(cidrhost(var.pods_cidr, 0))
    error_message = "pods_cidr must be a CIDR."
  }
}

variable "services_cidr" {
  type        = string
  description = "Secondary range of the services."
  default     = "10.30.0.0/20"
  validation {
    condition     = can(cidrhost(var.services_cidr, 0))
    error_message = "services_cidr must be a CIDR."
  }
}
