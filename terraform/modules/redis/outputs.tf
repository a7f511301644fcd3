output "host" {
  description = "The instance's private address."
  value       = google_redis_instance.this.host
}

output "ca_certificate" {
  description = "The server CA (with transit encryption), empty otherwise."
  value       = try(google_redis_instance.this.server_ca_certs[0].cert, "")
}

output "url" {
  description = "MATCHDAY_REDIS_URL: redis:// (rediss:// on 6378 with TLS) with the AUTH string, database 0."
  value = format(
    "%s://:%s@%s:%d/0",
    var.settings.transit_encryption ? "rediss" : "redis",
    google_redis_instance.this.auth_string,
    google_redis_instance.this.host,
    google_redis_instance.this.port,
  )
  sensitive = true
}
