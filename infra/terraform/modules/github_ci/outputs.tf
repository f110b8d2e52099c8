output "role_arn" {
  description = "Set it as the repository variable AWS_ROLE_ARN: images.yml passes it to configure-aws-credentials as role-to-assume."
  value       = aws_iam_role.this.arn
}

output "oidc_provider_arn" {
  description = "The GitHub OIDC provider the role trusts."
  value       = local.oidc_provider_arn
}
