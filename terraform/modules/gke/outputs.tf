output "cluster_name" {
  description = "The cluster's name."
  value       = google_container_cluster.this.name
}

output "gpu_pool_name" {
  description = "The GPU pool's name: value of the cloud.google.com/gke-nodepool label its nodes carry."
  value       = google_container_node_pool.gpu.name
}

output "workload_pool" {
  description = "The Workload Identity pool."
  value       = google_container_cluster.this.workload_identity_config[0].workload_pool
}
