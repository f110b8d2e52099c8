# `terraform test` (run by tests/unit/test_terraform_cli.py where a terraform binary and the
# providers are available): plans the whole environment against mocked providers, so no
# account is needed. Data sources whose values feed functions get realistic mock values.

mock_provider "helm" {}

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" }] }]
      certificate_authority = [{ data = "Y2E=" }]
    }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { url = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" }
  }
}

variables {
  owner                   = "me@example.com"
  expiry                  = "2026-12-24T18:00:00Z"
  budget_alert_emails     = ["me@example.com"]
  github_repository       = "example/nlp-bench"
  eks_public_access_cidrs = ["203.0.113.7/32"]
  service_image           = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  pipeline_image          = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-pipeline@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
}

run "everything" {
  command = plan

  assert {
    condition     = output.lambda.alias_name == "live" && output.lambda.authorization == "AWS_IAM"
    error_message = "the Lambda target is described by the lambda output"
  }
  assert {
    condition     = output.eks.namespace == "nlp-bench" && output.eks.ingress_inbound_cidrs == ["10.42.0.0/16"]
    error_message = "the EKS target is described by the eks output"
  }
  assert {
    condition     = length(module.network[0].private_subnet_ids) == 2
    error_message = "two private subnets in two zones"
  }
  assert {
    condition     = output.tags.expiry == "2026-12-24T18:00:00Z"
    error_message = "the expiry tag is the variable"
  }
  assert {
    condition     = output.in_region_load.namespace == "nlp-bench-loadgen" && output.in_region_load.node_selector == { "nlp-bench/role" = "loadgen" }
    error_message = "in-region load runs in its own namespace on the loadgen nodes"
  }
  assert {
    condition     = length(module.deployer_role) == 1 && output.deployer.kubernetes_group == "nlp-bench:deployers"
    error_message = "the deployers' role exists and is a Kubernetes group on the cluster"
  }
}

run "first_apply_before_any_image" {
  command = plan

  variables {
    service_image     = null
    pipeline_image    = null
    enable_eks        = false
    enable_app_server = false
    github_repository = null
  }

  assert {
    condition     = output.lambda == null && output.eks == null && output.app_server == null
    error_message = "without images only the repositories, the bucket and the budget exist"
  }
  assert {
    condition     = length(module.network) == 0 && output.github_ci_role_arn == null
    error_message = "no network and no CI role on a bare first apply"
  }
  assert {
    condition     = output.deployer == null && output.in_region_load == null
    error_message = "no deployer role without anyone to assume it, no in-region load without EKS"
  }
}

# The eks module refuses a public endpoint without CIDRs (a precondition); without CIDRs the
# environment asks for a private endpoint, so the plan goes through.
run "without_cidrs_the_cluster_endpoint_is_private" {
  command = plan

  variables {
    eks_public_access_cidrs = []
  }

  assert {
    condition     = length(module.eks) == 1
    error_message = "the cluster is still planned"
  }
}

run "an_expiry_that_is_not_a_time_is_refused" {
  command = plan

  variables {
    expiry = "next week"
  }

  expect_failures = [var.expiry]
}
