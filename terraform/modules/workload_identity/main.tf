# The Google service account the Matchday pods act as (GKE Workload Identity): object access to the two buckets and
# read access to the image repository, granted to the Kubernetes service accounts in var.members.

resource "google_service_account" "workload" {
  project      = var.project_id
  account_id   = "${var.name}-workload"
  display_name = "Matchday workloads (serving, MLflow, pipelines)"
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each           = toset(var.members)
  service_account_id = google_service_account.workload.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${each.value}]"
}

resource "google_storage_bucket_iam_member" "objects" {
  for_each = toset(var.bucket_names)
  bucket   = each.value
  role     = "roles/storage.objectUser"
  member   = "serviceAccount:${google_service_account.workload.email}"
}

resource "google_artifact_registry_repository_iam_member" "pull" {
  project    = var.project_id
  location   = var.repository_region
  repository = var.image_repository
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.workload.email}"
}
