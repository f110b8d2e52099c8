# ----------------------------------------------------------------------------- who and until when

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Project tag and name prefix of every resource."
  type        = string
  default     = "nlp-bench"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "owner" {
  description = "Owner tag of every resource: who to ask before deleting it (an e-mail address or user name)."
  type        = string

  validation {
    condition     = length(trimspace(var.owner)) > 0
    error_message = "owner must not be empty."
  }
}

variable "expiry" {
  description = "Expiry tag of every resource, an RFC 3339 UTC time such as 2026-12-24T18:00:00Z: after it the pipeline's teardown guard destroys what is still deployed."
  type        = string

  validation {
    condition     = can(regex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$", var.expiry)) && can(formatdate("YYYY", var.expiry))
    error_message = "expiry must be an RFC 3339 UTC time, e.g. 2026-12-24T18:00:00Z."
  }
}

# ----------------------------------------------------------------------------- budget

variable "budget_monthly_usd" {
  description = "Monthly cost budget of the account, in US dollars."
  type        = number
  default     = 50
}

variable "budget_alert_emails" {
  description = "Who gets the budget's alarms (hours late: the expiry guard is the real brake)."
  type        = list(string)
}

# ----------------------------------------------------------------------------- images and CI

variable "github_repository" {
  description = "owner/name of the GitHub repository whose main branch may push images through OIDC; null creates no CI role."
  type        = string
  default     = null
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false when the account already has one; it is then looked up)."
  type        = bool
  default     = true
}

variable "service_image" {
  description = "The service image for Lambda, pinned by digest (<service repository url>@sha256:...), built for lambda_architecture. null: no Lambda function and no HTTP API (the first apply, before any image is pushed)."
  type        = string
  default     = null
}

variable "pipeline_image" {
  description = "The pipeline image (Dagster + load generator) pinned by digest for the app server; null boots the app server with Docker only."
  type        = string
  default     = null
}

# ----------------------------------------------------------------------------- Lambda + HTTP API

variable "lambda_architecture" {
  description = "x86_64 or arm64; push the service image built for the same platform."
  type        = string
  default     = "x86_64"
}

variable "lambda_memory_mb" {
  description = "The function's memory size in MB (CPU scales with it: 1,769 MB = 1 vCPU)."
  type        = number
  default     = 2048
}

variable "lambda_timeout_s" {
  description = "The function's timeout in seconds."
  type        = number
  default     = 30
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency, or null (default: new accounts' low quotas refuse reservations)."
  type        = number
  default     = null
}

variable "lambda_provisioned_concurrency" {
  description = "Provisioned concurrency on the alias; 0 for none (billed while it exists)."
  type        = number
  default     = 0
}

variable "lambda_log_format" {
  description = "Text or JSON: the format of the function's REPORT lines."
  type        = string
  default     = "Text"
}

variable "lambda_environment" {
  description = "Extra NLP_BENCH_* environment for the function (never secrets)."
  type        = map(string)
  default     = {}
}

variable "api_authorization" {
  description = "AWS_IAM (SigV4) or JWT: how the HTTP API authorises every request."
  type        = string
  default     = "AWS_IAM"
}

variable "jwt_issuer" {
  description = "JWT issuer URL (api_authorization = JWT)."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (api_authorization = JWT)."
  type        = list(string)
  default     = []
}

variable "api_throttle_rate_limit" {
  description = "Requests per second the HTTP API's default route admits (the quick and full profiles peak at 40/s)."
  type        = number
  default     = 100
}

variable "api_throttle_burst_limit" {
  description = "Burst size of the HTTP API's default route."
  type        = number
  default     = 200
}

# ----------------------------------------------------------------------------- EKS

variable "enable_eks" {
  description = "Create the EKS cluster, its node groups and the load balancer controller (the costliest part: see docs/deploy-aws.md)."
  type        = bool
  default     = true
}

variable "eks_kubernetes_version" {
  description = "Kubernetes version of the cluster (keep it in standard support)."
  type        = string
  default     = "1.35"
}

variable "eks_public_access_cidrs" {
  description = "Networks that may reach the cluster's public API endpoint, e.g. [\"<your address>/32\"]; empty keeps the endpoint private (kubectl from inside the VPC only)."
  type        = list(string)
  default     = []
}

variable "eks_admin_principal_arns" {
  description = "Further IAM principals with cluster-admin (the caller of terraform apply already has it)."
  type        = list(string)
  default     = []
}

variable "eks_node_architecture" {
  description = "x86_64 or arm64 nodes (the service and pipeline images must be built for it)."
  type        = string
  default     = "x86_64"
}

variable "eks_service_nodes" {
  description = "The service node group {instance_types, min_size, desired_size, max_size, disk_gib}; null keeps the module's default (2 × c6i.large, up to 4)."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = number
  })
  default = null
}

variable "eks_loadgen_nodes" {
  description = "The Locust node group, same shape; null keeps the module's default (1 × c6i.large, up to 2)."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = number
  })
  default = null
}

variable "k8s_namespace" {
  description = "Namespace the service and the Locust pods run in (render_manifests' namespace)."
  type        = string
  default     = "nlp-bench"
}

variable "loadgen_namespace" {
  description = "Namespace of the in-region load generator's pods, apart from the service's (whose namespace each aws-eks teardown deletes)."
  type        = string
  default     = "nlp-bench-loadgen"
}

variable "loadgen_service_account" {
  description = "Service account of the load generator's pods; its IRSA role writes the results bucket and may call the service."
  type        = string
  default     = "nlp-bench-loadgen"
}

# ----------------------------------------------------------------------------- the deployers

variable "deployer_principal_arns" {
  description = "Further IAM roles that may assume the deployer role besides the app server (e.g. your SSO role, to run the pipeline with exactly its permissions)."
  type        = list(string)
  default     = []
}

variable "pipeline_namespace" {
  description = "Namespace of the pipeline on the cluster (infra/dagster); its service account assumes the deployer role through IRSA."
  type        = string
  default     = "nlp-bench-pipeline"
}

variable "pipeline_service_account" {
  description = "Service account of the pipeline's pods on the cluster (infra/dagster/dagster.yaml's service_account_name)."
  type        = string
  default     = "nlp-bench-pipeline"
}

# ----------------------------------------------------------------------------- app server

variable "enable_app_server" {
  description = "Create the app server (Dagster UI + daemon and a load generator inside the region)."
  type        = bool
  default     = true
}

variable "app_server_instance_type" {
  description = "Instance type of the app server."
  type        = string
  default     = "c6i.xlarge"
}
