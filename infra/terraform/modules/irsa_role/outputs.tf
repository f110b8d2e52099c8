output "role_arn" {
  description = "Annotate the service account with eks.amazonaws.com/role-arn: <role_arn>."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "The role's name."
  value       = aws_iam_role.this.name
}
