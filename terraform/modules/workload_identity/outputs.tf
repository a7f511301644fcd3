output "email" {
  description = "The workload service account: annotate the Kubernetes service account with it."
  value       = google_service_account.workload.email
}
