# A regional, private, VPC-native GKE cluster with Workload Identity, Dataplane V2 (network policies), the GCS FUSE
# CSI driver (the chart's state volume), a CPU pool and a tainted GPU pool for the tune and train steps.

resource "google_service_account" "nodes" {
  project      = var.project_id
  account_id   = "${var.name}-gke-nodes"
  display_name = "Matchday GKE nodes (logs, metrics, image pulls only)"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/artifactregistry.reader",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
  ])
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "this" {
  #checkov:skip=CKV_GCP_12:network policies are enforced by Dataplane V2 (datapath_provider ADVANCED_DATAPATH), which replaces the Calico network_policy block this check looks for
  #checkov:skip=CKV_GCP_24:PodSecurityPolicy was removed from Kubernetes in 1.25; the chart sets restricted pod security contexts instead
  #checkov:skip=CKV_GCP_66:Binary Authorization needs an attestation step in the image build, which the project does not have yet; switch evaluation_mode to PROJECT_SINGLETON_POLICY_ENFORCE with one
  #checkov:skip=CKV_GCP_65:Google Groups for RBAC needs a Workspace domain the project may not have
  provider = google
  project  = var.project_id
  name     = var.name
  location = var.region

  network         = var.network_id
  subnetwork      = var.subnetwork_id
  networking_mode = "VPC_NATIVE"
  ip_allocation_policy {
    cluster_secondary_range_name  = var.pods_range_name
    services_secondary_range_name = var.services_range_name
  }
  datapath_provider = "ADVANCED_DATAPATH"

  # The node pools below replace the default pool.
  remove_default_node_pool = true
  initial_node_count       = 1
  node_config {
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    metadata = {
      disable-legacy-endpoints = "true"
    }
  }

  deletion_protection = var.deletion_protection
  release_channel {
    channel = "REGULAR"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = var.master_cidr
  }
  master_authorized_networks_config {
    dynamic "cidr_blocks" {
      for_each = var.master_authorized_cidrs
      content {
        cidr_block   = cidr_blocks.value.cidr
        display_name = cidr_blocks.value.name
      }
    }
  }
  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }
  addons_config {
    gcs_fuse_csi_driver_config {
      enabled = true
    }
    http_load_balancing {
      disabled = false
    }
  }

  enable_shielded_nodes       = true
  enable_intranode_visibility = true
  enable_legacy_abac          = false
  binary_authorization {
    evaluation_mode = "DISABLED"
  }

  logging_service    = "logging.googleapis.com/kubernetes"
  monitoring_service = "monitoring.googleapis.com/kubernetes"
  monitoring_config {
    enable_components = ["SYSTEM_COMPONENTS"]
    managed_prometheus {
      enabled = false # the chart's ServiceMonitor and PrometheusRule are for the Prometheus Operator
    }
  }

  resource_labels = var.labels

  lifecycle {
    ignore_changes = [node_config]
  }
}

resource "google_container_node_pool" "cpu" {
  project  = var.project_id
  name     = "cpu-pool"
  cluster  = google_container_cluster.this.id
  location = var.region

  autoscaling {
    min_node_count = var.cpu_pool.min_nodes
    max_node_count = var.cpu_pool.max_nodes
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.cpu_pool.machine_type
    disk_size_gb    = var.cpu_pool.disk_size_gb
    disk_type       = "pd-balanced"
    image_type      = "COS_CONTAINERD"
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = merge(var.labels, { "matchday.io/pool" = "cpu" })
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}

resource "google_container_node_pool" "gpu" {
  project  = var.project_id
  name     = var.gpu_pool.name # the label cloud.google.com/gke-nodepool=<name> the pipeline selects
  cluster  = google_container_cluster.this.id
  location = var.region

  autoscaling {
    min_node_count = var.gpu_pool.min_nodes
    max_node_count = var.gpu_pool.max_nodes
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.gpu_pool.machine_type
    disk_size_gb    = var.gpu_pool.disk_size_gb
    disk_type       = "pd-ssd"
    image_type      = "COS_CONTAINERD"
    spot            = var.gpu_pool.spot
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = merge(var.labels, { "matchday.io/pool" = "gpu" })

    guest_accelerator {
      type  = var.gpu_pool.accelerator_type
      count = var.gpu_pool.accelerators
      gpu_driver_installation_config {
        gpu_driver_version = "LATEST"
      }
    }
    # Only pods that tolerate it land here: the pipeline's tune and train steps (toleration key
    # MATCHDAY_ACCELERATOR_TYPE, operator Exists) and the chart's training job. GKE sets the same taint on GPU pools.
    taint {
      key    = "nvidia.com/gpu"
      value  = "present"
      effect = "NO_SCHEDULE"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}
