# What the pipeline's deployers read (terraform output -json): one key per fact, null where the
# part is not deployed.

output "region" {
  description = "AWS region of everything below."
  value       = var.region
}

output "account_id" {
  description = "The AWS account the environment lives in."
  value       = local.account_id
}

output "expiry" {
  description = "The expiry tag every resource carries (RFC 3339 UTC); the teardown guard acts after it."
  value       = var.expiry
}

output "tags" {
  description = "The tags on every resource (project, owner, expiry, managed-by); the Ingress passes them to the ALB."
  value = {
    project    = var.project
    owner      = var.owner
    expiry     = var.expiry
    managed-by = "terraform"
  }
}

output "budget_name" {
  description = "The monthly budget's name."
  value       = module.budget.budget_name
}

output "service_repository_url" {
  description = "ECR repository of the service image (Lambda and pods): push <url>:<git sha>-<arch>, deploy <url>@sha256:<digest>."
  value       = module.service_repository.repository_url
}

output "pipeline_repository_url" {
  description = "ECR repository of the pipeline image (Dagster, the load generator, the Locust pods)."
  value       = module.pipeline_repository.repository_url
}

output "results_bucket" {
  description = "S3 bucket the load generator writes its result files to."
  value       = module.results.bucket
}

output "github_ci_role_arn" {
  description = "Set as the GitHub repository variable AWS_ROLE_ARN (images.yml assumes it through OIDC); null without github_repository."
  value       = local.ci_on ? module.github_ci[0].role_arn : null
}

# ----------------------------------------------------------------------------- Lambda

output "lambda" {
  description = "The Lambda target, null without service_image: function_name, function_arn, function_version, alias_name, alias_arn, architecture, memory_mb, provisioned_concurrency, execution_role_arn, log_group_name, log_format, api_id, api_endpoint, api_execution_arn, api_access_log_group_name, authorization."
  value = local.lambda_on ? {
    function_name             = module.lambda_api[0].function_name
    function_arn              = module.lambda_api[0].function_arn
    function_version          = module.lambda_api[0].function_version
    alias_name                = module.lambda_api[0].alias_name
    alias_arn                 = module.lambda_api[0].alias_arn
    architecture              = module.lambda_api[0].architecture
    memory_mb                 = module.lambda_api[0].memory_mb
    provisioned_concurrency   = module.lambda_api[0].provisioned_concurrency
    execution_role_arn        = module.lambda_api[0].execution_role_arn
    log_group_name            = module.lambda_api[0].log_group_name
    log_format                = module.lambda_api[0].log_format
    api_id                    = module.lambda_api[0].api_id
    api_endpoint              = module.lambda_api[0].api_endpoint
    api_execution_arn         = module.lambda_api[0].api_execution_arn
    api_access_log_group_name = module.lambda_api[0].api_access_log_group_name
    authorization             = module.lambda_api[0].authorization
  } : null
}

# ----------------------------------------------------------------------------- EKS

output "eks" {
  description = "The EKS target, null without enable_eks: cluster_name, cluster_arn, cluster_endpoint, cluster_certificate_authority_data, kubernetes_version, namespace, node_selectors, loadgen_toleration, loadgen_namespace, loadgen_service_account, loadgen_role_arn, ingress_inbound_cidrs."
  value = var.enable_eks ? {
    cluster_name                       = module.eks[0].cluster_name
    cluster_arn                        = module.eks[0].cluster_arn
    cluster_endpoint                   = module.eks[0].cluster_endpoint
    cluster_certificate_authority_data = module.eks[0].cluster_certificate_authority_data
    kubernetes_version                 = module.eks[0].kubernetes_version
    namespace                          = var.k8s_namespace
    node_selectors                     = module.eks[0].node_selectors
    loadgen_toleration                 = module.eks[0].loadgen_toleration
    loadgen_namespace                  = var.loadgen_namespace
    loadgen_service_account            = var.loadgen_service_account
    loadgen_role_arn                   = module.loadgen_role[0].role_arn
    ingress_inbound_cidrs              = [module.network[0].vpc_cidr_block]
  } : null
}

# ----------------------------------------------------------------------------- app server

output "app_server" {
  description = "The app server, null without enable_app_server: instance_id, private_ip, role_arn, ui_port_forward_command."
  value = var.enable_app_server ? {
    instance_id             = module.app_server[0].instance_id
    private_ip              = module.app_server[0].private_ip
    role_arn                = module.app_server[0].role_arn
    ui_port_forward_command = module.app_server[0].ui_port_forward_command
  } : null
}

# ----------------------------------------------------------------------------- in-region load

output "in_region_load" {
  description = "Where the in-region load generator runs, null without enable_eks (nlp_bench_pipeline.loadgen.in_region.InRegionLoad, field for field): cluster_name, region, bucket, image (the pipeline image; null before it is pushed), role_arn, namespace, service_account, node_selector, toleration."
  value = var.enable_eks ? {
    cluster_name    = module.eks[0].cluster_name
    region          = var.region
    bucket          = module.results.bucket
    image           = var.pipeline_image
    role_arn        = module.loadgen_role[0].role_arn
    namespace       = var.loadgen_namespace
    service_account = var.loadgen_service_account
    node_selector   = module.eks[0].node_selectors["loadgen"]
    toleration      = module.eks[0].loadgen_toleration
  } : null
}

# ----------------------------------------------------------------------------- the deployers

output "deployer" {
  description = "The deployers' role, null when nobody could assume it: role_arn (a profile's role_arn, or the pipeline's service account annotation), execution_boundary_arn (the boundary of the execution roles it creates), kubernetes_group."
  value = local.deployer_on ? {
    role_arn               = module.deployer_role[0].role_arn
    execution_boundary_arn = module.deployer_role[0].execution_boundary_arn
    kubernetes_group       = module.deployer_role[0].kubernetes_group
  } : null
}
