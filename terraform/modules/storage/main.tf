# Cloud Storage for MLflow's artifacts and for the pipelines' shared state (the Feast offline parquet files, model
# bundles, reports), and the Artifact Registry repository of the images.

locals {
  buckets = {
    mlflow = "${var.project_id}-${var.name}-mlflow"
    feast  = "${var.project_id}-${var.name}-feast-offline"
  }
}

resource "google_storage_bucket" "data" {
  #checkov:skip=CKV_GCP_62:access logs of these two buckets would go to a third bucket that itself has no log sink; Cloud Audit Logs (data access) is the place to turn on object-level auditing
  for_each                    = local.buckets
  project                     = var.project_id
  name                        = each.value
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Keep three older versions of an object for 30 days, then let them go.
  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:images are public code, encrypted at rest with Google-managed keys; a customer-managed key needs a KMS key ring this root does not manage
  project       = var.project_id
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "Matchday images: serving, matchday (pipeline components), matchday:*-cuda"
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }
}
