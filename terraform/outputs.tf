output "cluster_name" {
  description = "GKE cluster: gcloud container clusters get-credentials <cluster_name> --region <region>."
  value       = module.gke.cluster_name
}

output "region" {
  description = "Region of the cluster and the managed services."
  value       = var.region
}

output "gpu_node_selector" {
  description = "The GPU pool's label=value: MATCHDAY_GPU_NODE_SELECTOR and the chart's gpu.nodeSelector."
  value       = "cloud.google.com/gke-nodepool=${module.gke.gpu_pool_name}"
}

output "workload_service_account" {
  description = "Google service account of the Matchday pods: the chart's serviceAccount.annotations iam.gke.io/gcp-service-account."
  value       = module.workload_identity.email
}

output "image_repository" {
  description = "Artifact Registry path for the images: <image_repository>/serving, <image_repository>/matchday."
  value       = module.storage.image_repository_url
}

output "mlflow_artifacts_url" {
  description = "The chart's mlflow.artifactsDestination."
  value       = "gs://${module.storage.mlflow_artifacts_bucket}/artifacts"
}

output "feast_offline_bucket" {
  description = "The chart's state.gcsBucket: the pipelines' shared state dir with the Feast offline parquet files."
  value       = module.storage.feast_offline_bucket
}

output "postgres_private_ip" {
  description = "Private IP of the Cloud SQL instance."
  value       = module.postgres.private_ip
}

output "redis_host" {
  description = "Private address of the Memorystore instance."
  value       = module.redis.host
}

output "redis_ca_certificate" {
  description = "CA of Memorystore's TLS (only with redis.transit_encryption)."
  value       = module.redis.ca_certificate
}

output "database_url" {
  description = "MATCHDAY_DATABASE_URL (the secret the chart reads)."
  value       = module.postgres.matchday_url
  sensitive   = true
}

output "mlflow_backend_store_uri" {
  description = "MLFLOW_BACKEND_STORE_URI of the chart's MLflow server."
  value       = module.postgres.mlflow_url
  sensitive   = true
}

output "redis_url" {
  description = "MATCHDAY_REDIS_URL (the secret the chart reads)."
  value       = module.redis.url
  sensitive   = true
}
