terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14.0, < 8.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
  }

  # Keep the state in a bucket of its own (created once by hand):
  #   terraform init -backend-config="bucket=<state bucket>" -backend-config="prefix=matchday"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
