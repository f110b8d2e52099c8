variable "name" {
  description = "Name of the IAM role GitHub Actions assumes."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may assume the role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "git_refs" {
  description = "Git refs whose workflow runs may assume the role (images.yml pushes from main only)."
  type        = list(string)
  default     = ["refs/heads/main"]
}

variable "repository_arns" {
  description = "ECR repositories the role may push to (and read digests from)."
  type        = list(string)
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC identity provider. An account holds one per URL: set false and pass oidc_provider_arn when it already exists."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com provider (when create_oidc_provider is false)."
  type        = string
  default     = null
}
