variable "name" {
  description = "IAM role name."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (the eks module's oidc_provider_arn)."
  type        = string
}

variable "oidc_issuer" {
  description = "The cluster's OIDC issuer without https:// (the eks module's oidc_issuer)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the service account that may assume the role."
  type        = string
}

variable "service_account" {
  description = "Name of the Kubernetes service account that may assume the role."
  type        = string
}

variable "policy_json" {
  description = "The role's one inline policy (an aws_iam_policy_document's json)."
  type        = string
}
