variable "project_id" {
  type        = string
  description = "GCP project."
}

variable "region" {
  type        = string
  description = "Region of the regional cluster (nodes in each of its zones)."
}

variable "name" {
  type        = string
  description = "Cluster name and prefix of the node service account."
}

variable "labels" {
  type        = map(string)
  description = "Resource labels of the cluster and its nodes."
}

variable "network_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnetwork_id" {
  type        = string
  description = "Subnetwork of the nodes."
}

variable "pods_range_name" {
  type        = string
  description = "Secondary range of the pods."
}

variable "services_range_name" {
  type        = string
  description = "Secondary range of the services."
}

variable "master_cidr" {
  type        = string
  description = "The /28 of the private control plane."
  default     = "172.16.0.0/28"
  validation {
    condition     = can(cidrhost(var.master_cidr, 0)) && endswith(var.master_cidr, "/28")
    error_message = "master_cidr must be a /28 CIDR."
  }
}

variable "master_authorized_cidrs" {
  type        = list(object({ cidr = string, name = string }))
  description = "Networks allowed to reach the control plane."
}

variable "cpu_pool" {
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
    disk_size_gb = number
  })
  description = "CPU pool size and machine type."
}

variable "gpu_pool" {
  type = object({
    name             = string
    machine_type     = string
    accelerator_type = string
    accelerators     = number
    min_nodes        = number
    max_nodes        = number
    disk_size_gb     = number
    spot             = bool
  })
  description = "GPU pool: name (the node selector's value), machine, accelerators."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy the cluster."
}
