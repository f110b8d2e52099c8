output "instance_id" {
  description = "The instance's id (the SSM session target)."
  value       = aws_instance.this.id
}

output "private_ip" {
  description = "The instance's private address (it has no public one)."
  value       = aws_instance.this.private_ip
}

output "role_arn" {
  description = "The instance profile's role (ECR pull, the results bucket, SSM)."
  value       = aws_iam_role.this.arn
}

output "ui_port_forward_command" {
  description = "Run it on your machine, then open http://127.0.0.1:<ui_port>: the Dagster UI through SSM, no open port."
  value       = "aws ssm start-session --region ${data.aws_region.current.name} --target ${aws_instance.this.id} --document-name AWS-StartPortForwardingSession --parameters portNumber=${var.ui_port},localPortNumber=${var.ui_port}"
}
