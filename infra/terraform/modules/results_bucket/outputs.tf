output "bucket" {
  description = "The results bucket's name."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "The results bucket's ARN (what read/write policies are scoped to)."
  value       = aws_s3_bucket.this.arn
}
