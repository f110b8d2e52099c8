terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
    # Configured by the root module (envs/bench), which knows the cluster's endpoint.
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
  }
}
