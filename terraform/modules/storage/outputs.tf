output "mlflow_artifacts_bucket" {
  description = "Bucket of MLflow's artifacts."
  value       = google_storage_bucket.data["mlflow"].name
}

output "feast_offline_bucket" {
  description = "Bucket of the pipelines' shared state (Feast offline files)."
  value       = google_storage_bucket.data["feast"].name
}

output "image_repository_id" {
  description = "Artifact Registry repository id."
  value       = google_artifact_registry_repository.images.repository_id
}

output "image_repository_url" {
  description = "Docker path of the repository."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}
