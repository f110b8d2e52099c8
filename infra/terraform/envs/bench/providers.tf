# Every resource the AWS provider creates carries project, owner and expiry. The pipeline's
# teardown guard reads expiry; modules hand the same tags on to what controllers create later.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project    = var.project
      owner      = var.owner
      expiry     = var.expiry
      managed-by = "terraform"
    }
  }
}

# The load balancer controller's chart goes into the cluster this environment creates; the
# token comes from the caller's AWS credentials at plan/apply time.
provider "helm" {
  kubernetes = {
    host                   = try(module.eks[0].cluster_endpoint, "")
    cluster_ca_certificate = try(base64decode(module.eks[0].cluster_certificate_authority_data), "")
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--region", var.region, "--cluster-name", local.name]
    }
  }
}
