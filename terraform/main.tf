# Matchday on Google Cloud: a regional GKE cluster with a CPU pool and a GPU pool, Cloud SQL for PostgreSQL,
# Memorystore for Redis, Cloud Storage for MLflow artifacts and the Feast offline data, an Artifact Registry for the
# images, and the Workload Identity that lets the chart's pods use the buckets without keys.
# `terraform output` gives every value helm/matchday/values-production.yaml needs (see the README's Deployment).

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "redis.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

module "network" {
  source     = "./modules/network"
  project_id = var.project_id
  region     = var.region
  name       = var.name

  depends_on = [google_project_service.apis]
}

module "gke" {
  source                  = "./modules/gke"
  project_id              = var.project_id
  region                  = var.region
  name                    = var.name
  labels                  = var.labels
  network_id              = module.network.network_id
  subnetwork_id           = module.network.subnetwork_id
  pods_range_name         = module.network.pods_range_name
  services_range_name     = module.network.services_range_name
  master_authorized_cidrs = var.master_authorized_cidrs
  cpu_pool                = var.cpu_pool
  gpu_pool                = var.gpu_pool
  deletion_protection     = var.deletion_protection
}

module "postgres" {
  source              = "./modules/postgres"
  project_id          = var.project_id
  region              = var.region
  name                = var.name
  labels              = var.labels
  network_id          = module.network.network_id
  settings            = var.postgres
  deletion_protection = var.deletion_protection

  depends_on = [module.network]
}

module "redis" {
  source     = "./modules/redis"
  project_id = var.project_id
  region     = var.region
  name       = var.name
  labels     = var.labels
  network_id = module.network.network_id
  settings   = var.redis

  depends_on = [module.network]
}

module "storage" {
  source     = "./modules/storage"
  project_id = var.project_id
  region     = var.region
  name       = var.name
  labels     = var.labels

  depends_on = [google_project_service.apis]
}

module "workload_identity" {
  source     = "./modules/workload_identity"
  project_id = var.project_id
  name       = var.name
  members = concat(
    ["${var.kubernetes_namespace}/${var.kubernetes_service_account}"],
    var.extra_workload_identity_members,
  )
  bucket_names      = [module.storage.mlflow_artifacts_bucket, module.storage.feast_offline_bucket]
  image_repository  = module.storage.image_repository_id
  repository_region = var.region

  # The identity pool PROJECT.svc.id.goog exists once the cluster does.
  depends_on = [module.gke]
}
