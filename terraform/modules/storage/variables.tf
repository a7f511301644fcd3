variable "project_id" {
  type        = string
  description = "GCP project (its id prefixes the bucket names, which are global)."
}

variable "region" {
  type        = string
  description = "Location of the buckets and the registry."
}

variable "name" {
  type        = string
  description = "Part of the bucket names and the registry id."
}

variable "labels" {
  type        = map(string)
  description = "Labels of the buckets and the registry."
}
