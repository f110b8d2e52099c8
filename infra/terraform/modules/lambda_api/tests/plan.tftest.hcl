# `terraform test` (run by tests/unit/test_terraform_cli.py where a terraform binary and the
# providers are available): plans against a mocked AWS provider, so no account is needed.

mock_provider "aws" {
  # Roles and policies validate their JSON even in a plan.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name      = "nlp-bench-service"
  image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
}

run "defaults_authorise_with_iam_and_throttle" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_route.default.authorization_type == "AWS_IAM"
    error_message = "the default route must require IAM authorisation"
  }
  assert {
    condition     = aws_apigatewayv2_stage.default.default_route_settings[0].throttling_rate_limit == 100
    error_message = "the default route must be throttled"
  }
  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == -1
    error_message = "reserved concurrency must be unset by default"
  }
  assert {
    condition     = length(aws_lambda_provisioned_concurrency_config.live) == 0
    error_message = "no provisioned concurrency by default"
  }
}

run "jwt_uses_an_authorizer" {
  command = plan

  variables {
    authorization = "JWT"
    jwt_issuer    = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
    jwt_audience  = ["client-id"]
  }

  assert {
    condition     = aws_apigatewayv2_route.default.authorization_type == "JWT" && length(aws_apigatewayv2_authorizer.jwt) == 1
    error_message = "JWT authorisation needs the route and an authorizer"
  }
}

run "provisioned_concurrency_on_the_alias" {
  command = plan

  variables {
    provisioned_concurrency = 2
    reserved_concurrency    = 5
    architecture            = "arm64"
  }

  assert {
    condition     = aws_lambda_provisioned_concurrency_config.live[0].provisioned_concurrent_executions == 2
    error_message = "provisioned concurrency goes on the alias"
  }
  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 5 && aws_lambda_function.this.architectures[0] == "arm64"
    error_message = "reserved concurrency and architecture are passed through"
  }
}

run "jwt_without_issuer_or_audience_is_refused" {
  command = plan

  variables {
    authorization = "JWT"
  }

  expect_failures = [var.jwt_issuer, var.jwt_audience]
}

run "an_unauthenticated_api_is_refused" {
  command = plan

  variables {
    authorization = "NONE"
  }

  expect_failures = [var.authorization]
}

run "a_tagged_image_is_refused" {
  command = plan

  variables {
    image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service:latest"
  }

  expect_failures = [var.image_uri]
}
