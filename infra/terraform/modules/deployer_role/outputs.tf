output "role_arn" {
  description = "The deployer role's ARN: assume it (a profile's role_arn), or annotate the pipeline's service account with it (eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "The deployer role's name."
  value       = aws_iam_role.this.name
}

output "execution_boundary_arn" {
  description = "The permissions boundary every execution role the deployers create must carry (iam:CreateRole's PermissionsBoundary)."
  value       = aws_iam_policy.execution_boundary.arn
}

output "kubernetes_group" {
  description = "The Kubernetes group the role is on the cluster (null without a cluster)."
  value       = var.cluster == null ? null : var.kubernetes_group
}
