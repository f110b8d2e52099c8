variable "name" {
  description = "Name of the deployer role (and the prefix of its execution boundary policy). Not under execution_role_path: the role must not be among those it may change."
  type        = string
}

variable "trusted_role_arns" {
  description = "IAM roles that may assume the deployer role: the app server's instance profile role, a person's SSO role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.trusted_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "trusted_role_arns must be IAM role ARNs."
  }
}

variable "irsa" {
  description = "The pipeline's Kubernetes service account that may assume the role through the cluster's OIDC provider (the pipeline on the cluster, infra/dagster): oidc_provider_arn, oidc_issuer (without https://), namespace, service_account. null: none."
  type = object({
    oidc_provider_arn = string
    oidc_issuer       = string
    namespace         = string
    service_account   = string
  })
  default = null
}

variable "function_prefix" {
  description = "The Lambda functions and their /aws/lambda/ log groups the role may manage start with this (the aws-lambda target's function_name knob, default nlp-bench)."
  type        = string
  default     = "nlp-bench"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{3,40}$", var.function_prefix))
    error_message = "function_prefix must be 3-40 letters, digits, hyphens or underscores (never empty: it scopes every Lambda statement)."
  }
}

variable "execution_role_path" {
  description = "IAM path of the execution roles the aws-lambda target creates (ROLE_PATH in the deployer); the role may manage roles under it and nothing else."
  type        = string
  default     = "/nlp-bench/"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_+=,.@-]+/$", var.execution_role_path))
    error_message = "execution_role_path must look like /nlp-bench/ (never /: it scopes every IAM statement)."
  }
}

variable "repository_arns" {
  description = "ECR repositories whose image digests the deployers read (the service image's)."
  type        = list(string)
}

variable "results_bucket_arn" {
  description = "The results bucket: the load generator's rows are read from it, the pipeline's step logs written to it."
  type        = string
}

variable "results_prefix" {
  description = "Key prefix the in-region load generator's pods write their run directories under (InRegionLoad.key_prefix)."
  type        = string
  default     = "loadgen"
}

variable "step_logs_prefix" {
  description = "Key prefix of the pipeline's step logs in the results bucket (S3ComputeLogManager in infra/dagster/dagster.yaml)."
  type        = string
  default     = "dagster"
}

variable "cluster" {
  description = "The EKS cluster the role deploys to: name and arn (eks:DescribeCluster, and an access entry mapping the role to kubernetes_group). null without EKS."
  type = object({
    name = string
    arn  = string
  })
  default = null
}

variable "kubernetes_group" {
  description = "Kubernetes group of the role's access entry, bound by infra/k8s/rbac/deployers.yaml."
  type        = string
  default     = "nlp-bench:deployers"
}
