# The original project's EC2 host, here for the Dagster webserver + daemon and the load
# generator inside the region. Nothing reaches it from outside: no public address, no key pair,
# no ingress rule. The UI binds 127.0.0.1 and is reached through an SSM port-forward:
#   aws ssm start-session --target <instance id> \
#     --document-name AWS-StartPortForwardingSession \
#     --parameters portNumber=3000,localPortNumber=3000
# Its role can pull from the given ECR repositories, read/write one S3 bucket, talk to SSM and
# assume the deployers' role, which the pipeline container acts as (an AWS profile at boot).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# default_tags do not reach the root volume by themselves.
data "aws_default_tags" "current" {}

locals {
  ami_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
  ec2_arn       = "arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
}

# Amazon Linux 2023 ships the SSM agent; the parameter always names its latest image.
data "aws_ssm_parameter" "ami" {
  name = local.ami_parameter
}

# ----------------------------------------------------------------------------- role

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  description        = "App server ${var.name}: ECR pull, one results bucket, SSM sessions"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  statement {
    sid = "RegistryLogin"
    # Account-wide call with no resource-level permissions: IAM accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = var.ecr_repository_arns
  }

  statement {
    sid       = "ListResults"
    actions   = ["s3:ListBucket"]
    resources = [var.results_bucket_arn]
  }

  statement {
    sid       = "ReadWriteResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${var.results_bucket_arn}/*"]
  }

  # The least Session Manager needs (AWS's "minimal instance profile permissions"), instead of
  # AmazonSSMManagedInstanceCore, which adds parameters, documents, patching and inventory.
  dynamic "statement" {
    for_each = var.deployer_role_arn == null ? [] : [var.deployer_role_arn]

    content {
      sid       = "ActAsTheDeployers"
      actions   = ["sts:AssumeRole"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "SsmAgentRegistration"
    actions   = ["ssm:UpdateInstanceInformation"]
    resources = ["${local.ec2_arn}:instance/*"]
  }

  statement {
    sid = "SsmSessionChannels"
    # The session channels have no resource type in IAM: "*" is the only accepted resource.
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "ecr-pull-results-ssm"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_iam_instance_profile" "this" {
  name = var.name
  role = aws_iam_role.this.name
}

# ----------------------------------------------------------------------------- network

resource "aws_security_group" "this" {
  name        = var.name
  description = "App server: no ingress at all (SSM only), egress HTTPS and the VPC"
  vpc_id      = var.vpc_id

  tags = { Name = var.name }
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = toset(var.egress_cidrs)

  security_group_id = aws_security_group.this.id
  description       = "HTTPS: SSM, ECR, S3, STS, package mirrors, the HTTP API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  security_group_id = aws_security_group.this.id
  description       = "Anything inside the VPC on TCP: the internal ALB, the Kubernetes API"
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
  cidr_ipv4         = var.vpc_cidr_block
}

# ----------------------------------------------------------------------------- instance

resource "aws_instance" "this" {
  ami                    = data.aws_ssm_parameter.ami.insecure_value
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = [aws_security_group.this.id]
  iam_instance_profile   = aws_iam_instance_profile.this.name
  monitoring             = true # 1-minute CPU metrics: shows whether the load generator saturated
  ebs_optimized          = true

  associate_public_ip_address = false

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1 # the pipeline container uses the host network
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_gib
    encrypted             = true
    delete_on_termination = true
    tags                  = merge(data.aws_default_tags.current.tags, { Name = var.name })
  }

  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    region            = data.aws_region.current.name
    registry          = var.pipeline_image == null ? "" : split("/", var.pipeline_image)[0]
    pipeline_image    = var.pipeline_image == null ? "" : var.pipeline_image
    ui_port           = var.ui_port
    deployer_role_arn = var.deployer_role_arn == null ? "" : var.deployer_role_arn
    environment       = var.pipeline_environment
  })
  user_data_replace_on_change = true

  tags = { Name = var.name }

  lifecycle {
    # A newer AMI on the next plan must not replace a host in the middle of a benchmark.
    ignore_changes = [ami]
  }
}
