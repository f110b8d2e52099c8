terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
  }

  # Remote state is optional: without this block the state stays in terraform.tfstate here
  # (git-ignored). To share it, create a bucket and uncomment; then
  #   terraform init -backend-config="bucket=<bucket>" -backend-config="region=<region>"
  # backend "s3" {
  #   key          = "nlp-bench/bench.tfstate"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}
