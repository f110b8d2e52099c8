output "function_name" {
  description = "The Lambda function's name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The function's unqualified ARN."
  value       = aws_lambda_function.this.arn
}

output "function_version" {
  description = "The published version the alias points at."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "The alias the API invokes (Qualifier for boto3 invoke and for provisioned concurrency)."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "The alias's ARN (what a direct boto3 invoke and lambda:InvokeFunction grants name)."
  value       = aws_lambda_alias.live.arn
}

output "architecture" {
  description = "The function's instruction set (the image pushed for it must match)."
  value       = var.architecture
}

output "memory_mb" {
  description = "The function's memory size in MB."
  value       = var.memory_mb
}

output "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias (0: none)."
  value       = var.provisioned_concurrency
}

output "execution_role_arn" {
  description = "The function's execution role (a boto3 deployer passes it as Role)."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "Where the function's REPORT lines land (CloudWatch Logs)."
  value       = aws_cloudwatch_log_group.function.name
}

output "log_format" {
  description = "Text or JSON: how the REPORT lines in log_group_name are written."
  value       = var.log_format
}

output "api_id" {
  description = "The HTTP API's id."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Base URL of the HTTP API's default stage; POST <api_endpoint>/predict."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "api_execution_arn" {
  description = "The API's execute-api ARN; an IAM caller needs execute-api:Invoke on <api_execution_arn>/*."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "api_access_log_group_name" {
  description = "The HTTP API's access log group (one JSON line per request)."
  value       = aws_cloudwatch_log_group.api_access.name
}

output "authorization" {
  description = "AWS_IAM (sign requests with SigV4, service execute-api) or JWT (send Authorization: Bearer <token>)."
  value       = var.authorization
}
