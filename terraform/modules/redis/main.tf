# Memorystore for Redis on private services access, with AUTH: the Feast online store and the rate limits.

resource "google_redis_instance" "this" {
  #checkov:skip=CKV_GCP_97:transit encryption is var.settings.transit_encryption (off by default): with it on, every client (redis-py, Feast) needs the instance CA mounted, which the chart does not do yet; traffic stays inside the VPC's private services range and AUTH is on
  project                 = var.project_id
  name                    = "${var.name}-redis"
  region                  = var.region
  tier                    = var.settings.tier
  memory_size_gb          = var.settings.memory_size_gb
  redis_version           = var.settings.version
  authorized_network      = var.network_id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true
  transit_encryption_mode = var.settings.transit_encryption ? "SERVER_AUTHENTICATION" : "DISABLED"
  labels                  = var.labels

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 3
        minutes = 0
      }
    }
  }
}
