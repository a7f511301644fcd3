output "network_id" {
  description = "The VPC's id."
  value       = google_compute_network.this.id
  # Cloud SQL and Memorystore need the peering before they can take a private address.
  depends_on = [google_service_networking_connection.services]
}

output "subnetwork_id" {
  description = "The nodes' subnetwork."
  value       = google_compute_subnetwork.nodes.id
}

output "pods_range_name" {
  description = "Secondary range name of the pods."
  value       = google_compute_subnetwork.nodes.secondary_ip_range[0].range_name
}

output "services_range_name" {
  description = "Secondary range name of the services."
  value       = google_compute_subnetwork.nodes.secondary_ip_range[1].range_name
}
