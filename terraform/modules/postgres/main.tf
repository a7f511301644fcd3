# Cloud SQL for PostgreSQL on a private IP only, TLS required: the database `matchday` (MATCHDAY_DATABASE_URL) and
# `mlflow` (MLflow's backend store), each with its own user.

resource "google_sql_database_instance" "this" {
  #checkov:skip=CKV_GCP_79:POSTGRES_16 is the version Matchday is tested on; the check pins an older "latest"
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY refuses every unencrypted connection; the check accepts only client-certificate mode, which psycopg's sslmode=require clients do not use
  project             = var.project_id
  name                = "${var.name}-postgres"
  region              = var.region
  database_version    = var.settings.version
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.settings.tier
    availability_type = var.settings.high_availability ? "REGIONAL" : "ZONAL"
    disk_type         = "PD_SSD"
    disk_size         = var.settings.disk_size_gb
    disk_autoresize   = true
    user_labels       = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
      backup_retention_settings {
        retained_backups = 14
      }
    }

    maintenance_window {
      day  = 7
      hour = 3
    }

    insights_config {
      query_insights_enabled = true
    }

    # Logging flags the CIS benchmark asks for (one block each: checkov reads static blocks only).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }
}

resource "google_sql_database" "databases" {
  for_each = toset(["matchday", "mlflow"])
  project  = var.project_id
  name     = each.value
  instance = google_sql_database_instance.this.name
}

# Letters and digits only: the password goes into a URL as it is.
resource "random_password" "users" {
  for_each = toset(["matchday", "mlflow"])
  length   = 32
  special  = false
}

resource "google_sql_user" "users" {
  for_each = toset(["matchday", "mlflow"])
  project  = var.project_id
  name     = each.value
  instance = google_sql_database_instance.this.name
  password = random_password.users[each.value].result
}
