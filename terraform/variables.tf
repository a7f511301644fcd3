variable "project_id" {
  type        = string
  description = "GCP project that holds every Matchday resource."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id: 6-30 lowercase letters, digits and hyphens."
  }
}

variable "region" {
  type        = string
  description = "Region of the regional GKE cluster, Cloud SQL, Memorystore and the buckets (e.g. europe-west4)."
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a GCP region such as europe-west4 (not a zone)."
  }
}

variable "name" {
  type        = string
  description = "Prefix of every resource name (cluster, instances, buckets get '<name>-...')."
  default     = "matchday"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource that takes labels."
  default     = { app = "matchday" }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy the cluster and the database (turn off only to tear a test environment down)."
  default     = true
}

variable "master_authorized_cidrs" {
  type        = list(object({ cidr = string, name = string }))
  description = "Networks allowed to reach the GKE control plane (kubectl, helm): your office or VPN ranges."
  default     = []
  validation {
    condition     = alltrue([for block in var.master_authorized_cidrs : can(cidrhost(block.cidr, 0))])
    error_message = "every master_authorized_cidrs entry needs a valid CIDR, e.g. 203.0.113.0/24."
  }
}

variable "cpu_pool" {
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
    disk_size_gb = number
  })
  description = "The CPU node pool: serving, MLflow, the pipeline's CPU steps."
  default     = { machine_type = "n2-standard-8", min_nodes = 1, max_nodes = 6, disk_size_gb = 100 }
  validation {
    condition     = var.cpu_pool.min_nodes >= 0 && var.cpu_pool.max_nodes >= var.cpu_pool.min_nodes && var.cpu_pool.max_nodes > 0
    error_message = "cpu_pool needs 0 <= min_nodes <= max_nodes and max_nodes > 0 (nodes per zone)."
  }
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
  description = <<-EOT
    The GPU node pool of the tune and train steps. Its name is the label value of the pipeline's node selector:
    MATCHDAY_GPU_NODE_SELECTOR=cloud.google.com/gke-nodepool=<name> and the chart's gpu.nodeSelector. GKE taints it
    nvidia.com/gpu=present:NoSchedule, which the pipeline's and the chart's tolerations tolerate.
  EOT
  default = {
    name             = "gpu-pool"
    machine_type     = "g2-standard-8"
    accelerator_type = "nvidia-l4"
    accelerators     = 1
    min_nodes        = 0
    max_nodes        = 2
    disk_size_gb     = 200
    spot             = false
  }
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.gpu_pool.name))
    error_message = "gpu_pool.name must be a node pool name (lowercase letters, digits, hyphens)."
  }
  validation {
    condition     = var.gpu_pool.accelerators >= 1 && var.gpu_pool.min_nodes >= 0 && var.gpu_pool.max_nodes >= var.gpu_pool.min_nodes
    error_message = "gpu_pool needs accelerators >= 1 and 0 <= min_nodes <= max_nodes."
  }
  validation {
    condition     = startswith(var.gpu_pool.accelerator_type, "nvidia-")
    error_message = "gpu_pool.accelerator_type must be a GKE NVIDIA accelerator such as nvidia-l4 or nvidia-tesla-t4."
  }
}

variable "postgres" {
  type = object({
    tier              = string
    version           = string
    disk_size_gb      = number
    high_availability = bool
  })
  description = "Cloud SQL for PostgreSQL: the Matchday store (ingest, canaries, API keys, served predictions, Feast registry) and MLflow's backend store."
  default     = { tier = "db-custom-2-7680", version = "POSTGRES_16", disk_size_gb = 50, high_availability = true }
  validation {
    condition     = can(regex("^POSTGRES_(1[4-9])$", var.postgres.version))
    error_message = "postgres.version must be POSTGRES_14 or later."
  }
  validation {
    condition     = var.postgres.disk_size_gb >= 10
    error_message = "postgres.disk_size_gb must be at least 10."
  }
}

variable "redis" {
  type = object({
    memory_size_gb     = number
    tier               = string
    version            = string
    transit_encryption = bool
  })
  description = <<-EOT
    Memorystore for Redis: the Feast online store and the serving rate limits. transit_encryption = true needs the
    instance's CA (output redis_ca_certificate) in every client, which the chart does not mount yet.
  EOT
  default     = { memory_size_gb = 2, tier = "STANDARD_HA", version = "REDIS_7_2", transit_encryption = false }
  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.redis.tier)
    error_message = "redis.tier must be BASIC or STANDARD_HA."
  }
  validation {
    condition     = var.redis.memory_size_gb >= 1 && var.redis.memory_size_gb <= 300
    error_message = "redis.memory_size_gb must be 1-300."
  }
}

variable "kubernetes_namespace" {
  type        = string
  description = "Namespace the Helm release runs in (its service account gets the Workload Identity binding)."
  default     = "matchday"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.kubernetes_namespace))
    error_message = "kubernetes_namespace must be a DNS label."
  }
}

variable "kubernetes_service_account" {
  type        = string
  description = "The chart's service account name (the release's full name, 'matchday' for a release named matchday)."
  default     = "matchday"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.kubernetes_service_account))
    error_message = "kubernetes_service_account must be a DNS label."
  }
}

variable "extra_workload_identity_members" {
  type        = list(string)
  description = "More NAMESPACE/SERVICE_ACCOUNT pairs that act as the Matchday workload identity, e.g. the Kubeflow pipeline runner 'kubeflow/pipeline-runner'."
  default     = ["kubeflow/pipeline-runner"]
  validation {
    condition     = alltrue([for member in var.extra_workload_identity_members : can(regex("^[a-z0-9-]+/[a-z0-9-]+$", member))])
    error_message = "each extra_workload_identity_members entry is NAMESPACE/SERVICE_ACCOUNT."
  }
}
