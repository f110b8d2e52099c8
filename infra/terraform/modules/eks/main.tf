# The Kubernetes half of the benchmark: an EKS control plane, two managed node groups (the
# service, and Locust load workers on their own tainted nodes), IRSA through the cluster's OIDC
# provider, metrics-server for the HPA, the Cluster Autoscaler for node scale-out
# (cluster_autoscaler.tf), and the AWS Load Balancer Controller for the ALB Ingress
# (load_balancer_controller.tf).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# The provider's default_tags (project, owner, expiry) reach what Terraform creates, not what
# an Auto Scaling group or a controller creates later; they are handed on explicitly below.
data "aws_default_tags" "current" {}

locals {
  partition = data.aws_partition.current.partition
  ami_type  = var.node_architecture == "arm64" ? "AL2023_ARM_64_STANDARD" : "AL2023_x86_64_STANDARD"
  # Labels the manifests select on (infra/k8s); the taint keeps every other pod off load nodes.
  node_groups = {
    service = {
      config = var.service_nodes
      labels = { "nlp-bench/role" = "service" }
      taints = []
    }
    loadgen = {
      config = var.loadgen_nodes
      labels = { "nlp-bench/role" = "loadgen" }
      taints = [{ key = "nlp-bench/role", value = "loadgen", effect = "NO_SCHEDULE" }]
    }
  }
}

# ----------------------------------------------------------------------------- control plane

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.name}-cluster"
  description        = "EKS control plane of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# Created before the cluster so it has a retention; EKS would otherwise make it keep logs forever.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.log_retention_days
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  # At the end of standard support EKS upgrades the cluster instead of billing extended support.
  upgrade_policy {
    support_type = "STANDARD"
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.endpoint_public_access ? var.public_access_cidrs : null
  }

  lifecycle {
    precondition {
      condition     = !var.endpoint_public_access || length(var.public_access_cidrs) > 0
      error_message = "endpoint_public_access needs public_access_cidrs (e.g. your address as a /32); 0.0.0.0/0 is never implied."
    }
  }

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]
}

resource "aws_eks_access_entry" "admin" {
  for_each = toset(var.cluster_admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = toset(var.cluster_admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }

  depends_on = [aws_eks_access_entry.admin]
}

# ----------------------------------------------------------------------------- IRSA

resource "aws_iam_openid_connect_provider" "cluster" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
}

# ----------------------------------------------------------------------------- nodes

data "aws_iam_policy_document" "node_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-node"
  description        = "EKS nodes of ${var.name}: join the cluster, run the VPC CNI, pull images"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
}

# AWS-managed policies, each the narrowest AWS offers for its job. PullOnly rather than a policy
# scoped to this account's repositories: the add-ons' images (VPC CNI, kube-proxy, CoreDNS) live
# in AWS-owned registries in other accounts, whose ARNs differ by region.
resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
  ])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

# IMDSv2 only, one hop: pods cannot reach the node's metadata (and so its role); they get AWS
# credentials through IRSA instead. Root volumes encrypted.
resource "aws_launch_template" "node" {
  for_each = local.node_groups

  name_prefix            = "${var.name}-${each.key}-"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = each.value.config.disk_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(data.aws_default_tags.current.tags, { Name = "${var.name}-${each.key}" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(data.aws_default_tags.current.tags, { Name = "${var.name}-${each.key}" })
  }
}

resource "aws_eks_node_group" "this" {
  for_each = local.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-${each.key}"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  ami_type        = local.ami_type
  capacity_type   = "ON_DEMAND"
  instance_types  = each.value.config.instance_types
  labels          = each.value.labels

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  scaling_config {
    min_size     = each.value.config.min_size
    desired_size = each.value.config.desired_size
    max_size     = each.value.config.max_size
  }

  update_config {
    max_unavailable = 1
  }

  dynamic "taint" {
    for_each = each.value.taints

    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}

# The VPC CNI as a managed add-on, with its network policy agent on: the NetworkPolicies in
# infra/k8s are enforced, not decoration.
resource "aws_eks_addon" "vpc_cni" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "vpc-cni"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  configuration_values        = jsonencode({ enableNetworkPolicy = "true" })
}

# The HPA's CPU metric comes from metrics-server, which EKS does not install by itself.
resource "aws_eks_addon" "metrics_server" {
  cluster_name = aws_eks_cluster.this.name
  addon_name   = "metrics-server"

  depends_on = [aws_eks_node_group.this]
}
