# The serverless half of the benchmark: the service image as a Lambda function, an alias for
# provisioned concurrency, and an HTTP API (payload 2.0) in front of it that authorises every
# request (IAM or JWT) and throttles its default route.

locals {
  function_logs   = "/aws/lambda/${var.name}"
  api_access_logs = "/aws/apigateway/${var.name}"
}

# ----------------------------------------------------------------------------- logs

resource "aws_cloudwatch_log_group" "function" {
  name              = local.function_logs
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = local.api_access_logs
  retention_in_days = var.log_retention_days
}

# ----------------------------------------------------------------------------- execution role

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "Lambda ${var.name}: write its own log group, nothing else"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# The function's only AWS call is its own logging; the log group exists already, so no
# logs:CreateLogGroup either.
data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  name   = "write-own-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.logs.json
}

# ----------------------------------------------------------------------------- function

resource "aws_lambda_function" "this" {
  function_name = var.name
  role          = aws_iam_role.execution.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]
  memory_size   = var.memory_mb
  timeout       = var.timeout_s
  publish       = true

  # -1 is the provider's "unreserved"; reserving is opt-in (see the variable).
  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = var.environment
  }

  logging_config {
    log_format = var.log_format
    log_group  = aws_cloudwatch_log_group.function.name
  }

  depends_on = [aws_iam_role_policy.logs]
}

resource "aws_lambda_alias" "live" {
  name             = var.alias_name
  description      = "What the HTTP API invokes"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_alias.live.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

# ----------------------------------------------------------------------------- HTTP API

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "nlp-bench service on Lambda (${var.authorization} authorisation)"
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = var.authorization == "JWT" ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  authorizer_type  = "JWT"
  name             = "${var.name}-jwt"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "lambda" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_alias.live.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

# One catch-all route: /predict, /healthz, /readyz and /metrics all reach the app, which
# answers unknown paths itself. Every request is authorised: there is no NONE route.
resource "aws_apigatewayv2_route" "default" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.lambda.id}"
  authorization_type = var.authorization
  authorizer_id      = var.authorization == "JWT" ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit    = var.throttle_rate_limit
    throttling_burst_limit   = var.throttle_burst_limit
    detailed_metrics_enabled = true
  }

  # One JSON line per request: the gateway's own latency and status beside Lambda's, so a
  # 429/500/503 in the results can be attributed to the gateway or the function.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTimeEpoch"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationError   = "$context.integrationErrorMessage"
      errorMessage       = "$context.error.message"
    })
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowInvokeFromHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "apigateway.amazonaws.com"
  # This API's default stage only: no other API in the account can invoke the alias.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*"
}
