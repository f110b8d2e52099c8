# The benchmark environment: everything both platforms need, composed from ../../modules.
# Apply in two steps (docs/deploy-aws.md): first without service_image (repositories, bucket,
# budget, CI role, network, cluster), then, once images are pushed, with their digests.

data "aws_caller_identity" "current" {}

locals {
  name       = var.project
  account_id = data.aws_caller_identity.current.account_id
  lambda_on  = var.service_image != null
  ci_on      = var.github_repository != null
  # The deployer role exists once someone can assume it: the app server, the pipeline's
  # service account on the cluster, or principals given.
  deployer_on = var.enable_app_server || var.enable_eks || length(var.deployer_principal_arns) > 0
}

module "budget" {
  source = "../../modules/budgets"

  name              = "${local.name}-monthly"
  monthly_limit_usd = var.budget_monthly_usd
  alert_emails      = var.budget_alert_emails
}

module "service_repository" {
  source = "../../modules/ecr"

  name              = "${local.name}-service"
  allow_lambda_pull = true
}

module "pipeline_repository" {
  source = "../../modules/ecr"

  name = "${local.name}-pipeline"
}

module "results" {
  source = "../../modules/results_bucket"

  name_prefix = "${local.name}-results"
}

data "aws_iam_openid_connect_provider" "github" {
  count = local.ci_on && !var.create_github_oidc_provider ? 1 : 0

  url = "https://token.actions.githubusercontent.com"
}

module "github_ci" {
  source = "../../modules/github_ci"
  count  = local.ci_on ? 1 : 0

  name                 = "${local.name}-github-images"
  github_repository    = var.github_repository
  repository_arns      = [module.service_repository.repository_arn, module.pipeline_repository.repository_arn]
  create_oidc_provider = var.create_github_oidc_provider
  oidc_provider_arn    = var.create_github_oidc_provider ? null : data.aws_iam_openid_connect_provider.github[0].arn
}

module "network" {
  source = "../../modules/network"
  count  = var.enable_eks || var.enable_app_server ? 1 : 0

  name         = local.name
  cluster_name = var.enable_eks ? local.name : null
}

module "lambda_api" {
  source = "../../modules/lambda_api"
  count  = local.lambda_on ? 1 : 0

  name                    = "${local.name}-service"
  image_uri               = var.service_image
  architecture            = var.lambda_architecture
  memory_mb               = var.lambda_memory_mb
  timeout_s               = var.lambda_timeout_s
  reserved_concurrency    = var.lambda_reserved_concurrency
  provisioned_concurrency = var.lambda_provisioned_concurrency
  log_format              = var.lambda_log_format
  environment             = var.lambda_environment
  authorization           = var.api_authorization
  jwt_issuer              = var.jwt_issuer
  jwt_audience            = var.jwt_audience
  throttle_rate_limit     = var.api_throttle_rate_limit
  throttle_burst_limit    = var.api_throttle_burst_limit
}

module "eks" {
  source = "../../modules/eks"
  count  = var.enable_eks ? 1 : 0

  name                         = local.name
  kubernetes_version           = var.eks_kubernetes_version
  vpc_id                       = module.network[0].vpc_id
  subnet_ids                   = module.network[0].private_subnet_ids
  endpoint_public_access       = length(var.eks_public_access_cidrs) > 0
  public_access_cidrs          = var.eks_public_access_cidrs
  cluster_admin_principal_arns = var.eks_admin_principal_arns
  node_architecture            = var.eks_node_architecture
  service_nodes                = var.eks_service_nodes
  loadgen_nodes                = var.eks_loadgen_nodes
}

# The load generator's pods' own AWS identity: write results to the bucket and, for the Lambda target,
# sign requests to the HTTP API (AWS_IAM) or invoke the alias directly (the boto3 mode).
data "aws_iam_policy_document" "loadgen" {
  # A pod uploads its run directory (loadgen/<run id>/<attempt>/); it reads and lists nothing.
  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${module.results.bucket_arn}/loadgen/*"]
  }

  dynamic "statement" {
    for_each = local.lambda_on ? [module.lambda_api[0]] : []

    content {
      sid       = "CallTheService"
      actions   = ["execute-api:Invoke"]
      resources = ["${statement.value.api_execution_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.lambda_on ? [module.lambda_api[0]] : []

    content {
      sid       = "InvokeTheAliasDirectly"
      actions   = ["lambda:InvokeFunction"]
      resources = [statement.value.alias_arn]
    }
  }
}

module "loadgen_role" {
  source = "../../modules/irsa_role"
  count  = var.enable_eks ? 1 : 0

  name              = "${local.name}-loadgen"
  oidc_provider_arn = module.eks[0].oidc_provider_arn
  oidc_issuer       = module.eks[0].oidc_issuer
  namespace         = var.loadgen_namespace
  service_account   = var.loadgen_service_account
  policy_json       = data.aws_iam_policy_document.loadgen.json
}

# What the pipeline's deployers act as (docs/deploy-aws.md, "What the deployers may do"): from
# the app server by assuming it, from the pipeline on the cluster through IRSA.
module "deployer_role" {
  source = "../../modules/deployer_role"
  count  = local.deployer_on ? 1 : 0

  name = "${local.name}-deployer"
  trusted_role_arns = concat(
    var.enable_app_server ? [module.app_server[0].role_arn] : [],
    var.deployer_principal_arns,
  )
  irsa = var.enable_eks ? {
    oidc_provider_arn = module.eks[0].oidc_provider_arn
    oidc_issuer       = module.eks[0].oidc_issuer
    namespace         = var.pipeline_namespace
    service_account   = var.pipeline_service_account
  } : null
  repository_arns    = [module.service_repository.repository_arn]
  results_bucket_arn = module.results.bucket_arn
  cluster = var.enable_eks ? {
    name = module.eks[0].cluster_name
    arn  = module.eks[0].cluster_arn
  } : null
}

module "app_server" {
  source = "../../modules/app_server"
  count  = var.enable_app_server ? 1 : 0

  name                = "${local.name}-app"
  vpc_id              = module.network[0].vpc_id
  vpc_cidr_block      = module.network[0].vpc_cidr_block
  subnet_id           = module.network[0].private_subnet_ids[0]
  instance_type       = var.app_server_instance_type
  ecr_repository_arns = [module.pipeline_repository.repository_arn]
  pipeline_image      = var.pipeline_image
  results_bucket_arn  = module.results.bucket_arn
  deployer_role_arn   = local.deployer_on ? module.deployer_role[0].role_arn : null
  # The pipeline's settings for the AWS targets and in-region load (never secrets).
  pipeline_environment = merge(
    { NLP_BENCH_RESULTS_BUCKET = module.results.bucket },
    var.pipeline_image == null ? {} : { NLP_BENCH_PIPELINE_IMAGE = var.pipeline_image },
    var.enable_eks ? { NLP_BENCH_AWS_CLUSTER = local.name } : {},
  )
}
