# The AWS Load Balancer Controller turns the service's Ingress into an ALB (target-type ip:
# straight to pod addresses, no NodePort hop). Its IAM policy is the chart release's own
# docs/install/iam_policy.json (kubernetes-sigs/aws-load-balancer-controller v3.5.0), narrowed:
# - from any region and account to this one, and from "*" to the resource types each call acts
#   on (security groups, this VPC, load balancers, target groups, listeners, rules); only the
#   Describe calls, which IAM cannot scope, stay on "*";
# - without the upstream statement for ACM, Cognito, WAF and Shield: the chart's WAF and Shield
#   features are off and the benchmark's Ingress is plain HTTP with none of them.
# The tag conditions, as upstream, limit the mutating calls to resources the controller itself
# created and tagged with elbv2.k8s.aws/cluster.

locals {
  lbc_namespace       = "kube-system"
  lbc_service_account = "aws-load-balancer-controller"
  elb_arn             = "arn:${local.partition}:elasticloadbalancing:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  ec2_arn             = "arn:${local.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  lbc_load_balancers = [
    "${local.elb_arn}:targetgroup/*/*",
    "${local.elb_arn}:loadbalancer/net/*/*",
    "${local.elb_arn}:loadbalancer/app/*/*",
  ]
}

data "aws_iam_policy_document" "load_balancer_controller" {
  statement {
    sid       = "ServiceLinkedRoleForElb"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid = "Describe"
    # Describe calls: IAM has no resource-level permissions for them, so "*" is the only
    # resource it accepts.
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcPeeringConnections",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeTags",
      "ec2:DescribeCoipPools",
      "ec2:DescribeIpamPools",
      "ec2:DescribeRouteTables",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTrustStores",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeCapacityReservation",
    ]
    resources = ["*"]
  }

  statement {
    sid     = "ReadScopedToThisVpc"
    actions = ["ec2:GetSecurityGroupsForVpc", "ec2:GetCoipPoolUsage"]
    resources = [
      "${local.ec2_arn}:vpc/${var.vpc_id}",
      "${local.ec2_arn}:security-group/*",
      "${local.ec2_arn}:coip-pool/*",
    ]
  }

  statement {
    sid       = "SecurityGroupRulesOnNodeGroups"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = ["${local.ec2_arn}:security-group/*", "${local.ec2_arn}:security-group-rule/*"]
  }

  statement {
    sid       = "CreateSecurityGroup"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["${local.ec2_arn}:security-group/*", "${local.ec2_arn}:vpc/${var.vpc_id}"]
  }

  statement {
    sid       = "TagNewSecurityGroups"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "RetagOwnSecurityGroups"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["${local.ec2_arn}:security-group/*"]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["true"]
    }

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "ManageOwnSecurityGroups"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"]
    resources = ["${local.ec2_arn}:security-group/*", "${local.ec2_arn}:security-group-rule/*"]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "CreateTaggedLoadBalancers"
    actions   = ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]
    resources = local.lbc_load_balancers

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid = "ListenersAndRules"
    actions = [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteRule",
    ]
    resources = [
      "${local.elb_arn}:loadbalancer/app/*/*",
      "${local.elb_arn}:loadbalancer/net/*/*",
      "${local.elb_arn}:listener/app/*/*/*",
      "${local.elb_arn}:listener/net/*/*/*",
      "${local.elb_arn}:listener-rule/app/*/*/*",
      "${local.elb_arn}:listener-rule/net/*/*/*",
    ]
  }

  statement {
    sid       = "RetagOwnLoadBalancers"
    actions   = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
    resources = local.lbc_load_balancers

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["true"]
    }

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid     = "TagListenersAndRules"
    actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
    resources = [
      "${local.elb_arn}:listener/net/*/*/*",
      "${local.elb_arn}:listener/app/*/*/*",
      "${local.elb_arn}:listener-rule/net/*/*/*",
      "${local.elb_arn}:listener-rule/app/*/*/*",
    ]
  }

  statement {
    sid = "ModifyOwnLoadBalancers"
    actions = [
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:ModifyCapacityReservation",
      "elasticloadbalancing:ModifyIpPools",
    ]
    resources = local.lbc_load_balancers

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "TagOnCreate"
    actions   = ["elasticloadbalancing:AddTags"]
    resources = local.lbc_load_balancers

    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateTargetGroup", "CreateLoadBalancer"]
    }

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "RegisterPodTargets"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = ["${local.elb_arn}:targetgroup/*/*"]
  }

  statement {
    sid = "ListenerSettings"
    actions = [
      "elasticloadbalancing:SetWebAcl",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:SetRulePriorities",
    ]
    resources = [
      "${local.elb_arn}:loadbalancer/app/*/*",
      "${local.elb_arn}:listener/app/*/*/*",
      "${local.elb_arn}:listener/net/*/*/*",
      "${local.elb_arn}:listener-rule/app/*/*/*",
      "${local.elb_arn}:listener-rule/net/*/*/*",
    ]
  }
}

module "load_balancer_controller_role" {
  source = "../irsa_role"

  name              = "${var.name}-aws-load-balancer-controller"
  oidc_provider_arn = aws_iam_openid_connect_provider.cluster.arn
  oidc_issuer       = replace(aws_iam_openid_connect_provider.cluster.url, "https://", "")
  namespace         = local.lbc_namespace
  service_account   = local.lbc_service_account
  policy_json       = data.aws_iam_policy_document.load_balancer_controller.json
}

resource "helm_release" "load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.load_balancer_controller_chart_version
  namespace  = local.lbc_namespace
  wait       = true
  timeout    = 600

  values = [yamlencode({
    clusterName = aws_eks_cluster.this.name
    # Pods cannot reach the node's metadata service (hop limit 1), so region and VPC are given.
    region = data.aws_region.current.name
    vpcId  = var.vpc_id
    serviceAccount = {
      create = true
      name   = local.lbc_service_account
      annotations = {
        "eks.amazonaws.com/role-arn" = module.load_balancer_controller_role.role_arn
      }
    }
    nodeSelector = { "nlp-bench/role" = "service" }
    # Off, so the controller never calls the APIs the policy above does not grant.
    enableShield = false
    enableWaf    = false
    enableWafv2  = false
    # The ALBs, target groups and security groups the controller creates carry the same tags.
    defaultTags = data.aws_default_tags.current.tags
  })]

  depends_on = [aws_eks_node_group.this]
}
