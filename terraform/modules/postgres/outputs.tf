output "private_ip" {
  description = "The instance's private IP."
  value       = google_sql_database_instance.this.private_ip_address
}

locals {
  host = google_sql_database_instance.this.private_ip_address
}

output "matchday_url" {
  description = "SQLAlchemy URL of the matchday database (psycopg 3, TLS required)."
  value       = "postgresql+psycopg://matchday:${random_password.users["matchday"].result}@${local.host}:5432/matchday?sslmode=require"
  sensitive   = true
}

output "mlflow_url" {
  description = "SQLAlchemy URL of MLflow's backend store."
  value       = "postgresql+psycopg://mlflow:${random_password.users["mlflow"].result}@${local.host}:5432/mlflow?sslmode=require"
  sensitive   = true
}
