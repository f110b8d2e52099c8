output "repository_name" {
  description = "The repository's name."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "The repository's ARN (what pull and push policies are scoped to)."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "<account>.dkr.ecr.<region>.amazonaws.com/<name>: push here, deploy <url>@sha256:<digest>."
  value       = aws_ecr_repository.this.repository_url
}
