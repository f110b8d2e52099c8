# The Cluster Autoscaler adds a node when the HPA's new pods do not fit, and removes idle ones:
# without it the node groups' max_size is never reached and pods beyond the desired nodes stay
# Pending. Its IAM policy is the project's documented one (cluster-autoscaler/cloudprovider/aws
# README, chart 9.59.0 / app 1.35.0), with the mutating calls narrowed to this cluster's node
# groups by the tag EKS puts on their Auto Scaling groups.

locals {
  ca_namespace       = "kube-system"
  ca_service_account = "cluster-autoscaler"
  ca_asg_tag         = "k8s.io/cluster-autoscaler/${var.name}"
}

data "aws_iam_policy_document" "cluster_autoscaler" {
  statement {
    sid = "Discover"
    # Describe calls: IAM has no resource-level permissions for them, so "*" is the only
    # resource it accepts.
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeOwnNodeGroups"
    actions   = ["eks:DescribeNodegroup"]
    resources = ["arn:${local.partition}:eks:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:nodegroup/${var.name}/*/*"]
  }

  statement {
    sid       = "ResizeOwnNodeGroups"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    resources = ["arn:${local.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.ca_asg_tag}"
      values   = ["owned"]
    }
  }
}

module "cluster_autoscaler_role" {
  source = "../irsa_role"

  name              = "${var.name}-cluster-autoscaler"
  oidc_provider_arn = aws_iam_openid_connect_provider.cluster.arn
  oidc_issuer       = replace(aws_iam_openid_connect_provider.cluster.url, "https://", "")
  namespace         = local.ca_namespace
  service_account   = local.ca_service_account
  policy_json       = data.aws_iam_policy_document.cluster_autoscaler.json
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.cluster_autoscaler_chart_version
  namespace  = local.ca_namespace
  wait       = true
  timeout    = 600

  values = [yamlencode({
    cloudProvider = "aws"
    awsRegion     = data.aws_region.current.name
    autoDiscovery = { clusterName = aws_eks_cluster.this.name }
    # The autoscaler's minor version must match the cluster's.
    image = { tag = "v${var.kubernetes_version}.0" }
    rbac = {
      serviceAccount = {
        create = true
        name   = local.ca_service_account
        annotations = {
          "eks.amazonaws.com/role-arn" = module.cluster_autoscaler_role.role_arn
        }
      }
    }
    nodeSelector = { "nlp-bench/role" = "service" }
    extraArgs = {
      # Node groups of one instance type scale as one.
      "balance-similar-node-groups" = true
      "skip-nodes-with-system-pods" = false
    }
  })]

  depends_on = [aws_eks_node_group.this]
}
