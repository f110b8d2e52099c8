# The role the pipeline's deployers act as (docs/deploy-aws.md, "What the deployers may do"):
# the aws-lambda and aws-eks targets, the CloudWatch fetcher, the teardown guard and the
# in-region load launcher. Assumed by the app server's instance profile role (and any further
# principals given), and by the pipeline's service account on the cluster through IRSA; never a
# key. Every statement is scoped to what the pipeline makes (functions and log groups named
# <function_prefix>*, execution roles under <execution_role_path>, the HTTP APIs, the cluster,
# the results bucket); where AWS offers no resource-level permission the statement says so.
#
# The execution roles it creates can carry no more than the execution boundary below (logs of
# the pipeline's functions): iam:CreateRole and iam:PutRolePolicy are allowed only with that
# permissions boundary, so the power to make roles is not the power to make an administrator.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  arn       = "arn:${local.partition}"

  functions       = "${local.arn}:lambda:${local.region}:${local.account}:function:${var.function_prefix}*"
  function_logs   = "${local.arn}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.function_prefix}*"
  execution_roles = "${local.arn}:iam::${local.account}:role${var.execution_role_path}*"
  apis            = "${local.arn}:apigateway:${local.region}::/apis*"
  api_tags        = "${local.arn}:apigateway:${local.region}::/tags*"
}

# ----------------------------------------------------------------------------- who may assume it

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = length(var.trusted_role_arns) > 0 ? [var.trusted_role_arns] : []

    content {
      sid     = "AssumedByRoles"
      effect  = "Allow"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "AWS"
        identifiers = statement.value
      }
    }
  }

  dynamic "statement" {
    for_each = var.irsa == null ? [] : [var.irsa]

    content {
      sid     = "AssumedByThePipelinesServiceAccount"
      effect  = "Allow"
      actions = ["sts:AssumeRoleWithWebIdentity"]

      principals {
        type        = "Federated"
        identifiers = [statement.value.oidc_provider_arn]
      }

      condition {
        test     = "StringEquals"
        variable = "${statement.value.oidc_issuer}:sub"
        values   = ["system:serviceaccount:${statement.value.namespace}:${statement.value.service_account}"]
      }

      condition {
        test     = "StringEquals"
        variable = "${statement.value.oidc_issuer}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "The nlp-bench pipeline's deployers: Lambda, HTTP API, EKS, metrics, teardown, results"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = length(var.trusted_role_arns) > 0 || var.irsa != null
      error_message = "The deployer role needs someone to assume it: trusted_role_arns, irsa, or both."
    }
  }
}

# ----------------------------------------------------------------------------- the execution roles' ceiling

data "aws_iam_policy_document" "execution_boundary" {
  statement {
    sid       = "WriteTheFunctionsOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.function_logs}:*"]
  }
}

resource "aws_iam_policy" "execution_boundary" {
  name        = "${var.name}-execution-boundary"
  path        = var.execution_role_path
  description = "Permissions boundary of the Lambda execution roles the nlp-bench deployers create"
  policy      = data.aws_iam_policy_document.execution_boundary.json
}

# ----------------------------------------------------------------------------- what it may do

data "aws_iam_policy_document" "this" {
  statement {
    sid = "LambdaFunctions"
    actions = [
      "lambda:AddPermission",
      "lambda:CreateAlias",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:DeleteFunctionConcurrency",
      "lambda:DeleteProvisionedConcurrencyConfig",
      "lambda:GetAlias",
      "lambda:GetFunction",
      "lambda:GetFunctionConcurrency",
      "lambda:GetPolicy",
      "lambda:GetProvisionedConcurrencyConfig",
      "lambda:ListTags",
      "lambda:PublishVersion",
      "lambda:PutFunctionConcurrency",
      "lambda:PutProvisionedConcurrencyConfig",
      "lambda:RemovePermission",
      "lambda:TagResource",
      "lambda:UpdateAlias",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
    ]
    # The function and its versions and aliases (function:<name>:<qualifier>).
    resources = [local.functions]
  }

  statement {
    sid = "LambdaAccount"
    # Account-wide reads with no resource type in IAM: "*" is the only resource accepted. The
    # sweeper lists functions to find expired ones; the memory sweep reads the account's limits.
    actions   = ["lambda:GetAccountSettings", "lambda:ListFunctions"]
    resources = ["*"]
  }

  statement {
    sid = "HttpApis"
    # API Gateway authorises by HTTP method on resource paths; these are the HTTP APIs (and
    # their routes, integrations, authorizers, stages) and their tags, in this region.
    actions   = ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST"]
    resources = [local.apis, local.api_tags]
  }

  statement {
    sid = "ExecutionRoles"
    actions = [
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:GetRole",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
      "iam:TagRole",
    ]
    resources = [local.execution_roles]
  }

  statement {
    sid       = "ExecutionRolesWithinTheBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePolicy"]
    resources = [local.execution_roles]

    condition {
      test     = "ArnEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.execution_boundary.arn]
    }
  }

  statement {
    sid       = "PassExecutionRolesToLambdaOnly"
    actions   = ["iam:PassRole"]
    resources = [local.execution_roles]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  statement {
    sid = "ListRoles"
    # ListRoles has no resource type in IAM: "*" is the only resource accepted. The sweeper
    # lists by the execution roles' path and reads nothing else.
    actions   = ["iam:ListRoles"]
    resources = ["*"]
  }

  statement {
    sid = "FunctionLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:FilterLogEvents",
      "logs:ListTagsForResource",
      "logs:PutRetentionPolicy",
      "logs:TagResource",
    ]
    resources = [local.function_logs, "${local.function_logs}:*"]
  }

  statement {
    sid       = "FindLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn}:logs:${local.region}:${local.account}:log-group:*"]
  }

  statement {
    sid = "Metrics"
    # GetMetricData has no resource type in IAM: "*" is the only resource accepted (it reads
    # metrics, Lambda's ConcurrentExecutions, Throttles and Duration among them).
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"]
  }

  statement {
    sid       = "ImageDigests"
    actions   = ["ecr:DescribeImages"]
    resources = var.repository_arns
  }

  statement {
    sid = "FindByTags"
    # The Resource Groups Tagging API has no resource-level permissions: "*" is the only
    # resource accepted. The teardown guard finds what carries the project's expiry tag.
    actions   = ["tag:GetResources"]
    resources = ["*"]
  }

  statement {
    sid       = "ListResults"
    actions   = ["s3:ListBucket"]
    resources = [var.results_bucket_arn]
  }

  statement {
    sid       = "ReadTheLoadGeneratorsRows"
    actions   = ["s3:GetObject"]
    resources = ["${var.results_bucket_arn}/${var.results_prefix}/*"]
  }

  statement {
    sid       = "StepLogs"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.results_bucket_arn}/${var.step_logs_prefix}/*"]
  }

  dynamic "statement" {
    for_each = var.cluster == null ? [] : [var.cluster]

    content {
      sid       = "TheCluster"
      actions   = ["eks:DescribeCluster"]
      resources = [statement.value.arn]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "deploy-measure-tear-down"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# ----------------------------------------------------------------------------- on the cluster

# Kubernetes rights come from RBAC, not IAM: the access entry maps the role to a group that
# infra/k8s/rbac/deployers.yaml binds (what the aws-eks target and the in-region launcher do).
resource "aws_eks_access_entry" "this" {
  count = var.cluster == null ? 0 : 1

  cluster_name      = var.cluster.name
  principal_arn     = aws_iam_role.this.arn
  kubernetes_groups = [var.kubernetes_group]
  type              = "STANDARD"
}
