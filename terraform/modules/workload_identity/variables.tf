variable "project_id" {
  type        = string
  description = "GCP project."
}

variable "name" {
  type        = string
  description = "Prefix of the service account id."
}

variable "members" {
  type        = list(string)
  description = "NAMESPACE/SERVICE_ACCOUNT pairs that may act as the workload service account."
  validation {
    condition     = length(var.members) > 0 && alltrue([for member in var.members : can(regex("^[a-z0-9-]+/[a-z0-9-]+$", member))])
    error_message = "members must be one or more NAMESPACE/SERVICE_ACCOUNT pairs."
  }
}

variable "bucket_names" {
  type        = list(string)
  description = "Buckets the workloads read and write objects in."
}

variable "image_repository" {
  type        = string
  description = "Artifact Registry repository id the workloads pull from."
}

variable "repository_region" {
  type        = string
  description = "Location of the repository."
}
