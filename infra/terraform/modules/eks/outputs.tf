output "cluster_name" {
  description = "The EKS cluster's name (aws eks update-kubeconfig --name <cluster_name>)."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "The EKS cluster's ARN."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 PEM of the cluster's CA (a kubernetes client's ssl_ca_cert, decoded)."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "kubernetes_version" {
  description = "The control plane's Kubernetes version."
  value       = aws_eks_cluster.this.version
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA roles trust it)."
  value       = aws_iam_openid_connect_provider.cluster.arn
}

output "oidc_issuer" {
  description = "The cluster's OIDC issuer without https:// (the condition key prefix of IRSA trust policies)."
  value       = replace(aws_iam_openid_connect_provider.cluster.url, "https://", "")
}

output "node_selectors" {
  description = "nodeSelector per node group: service pods on service, Locust pods on loadgen."
  value       = { for k, g in local.node_groups : k => g.labels }
}

output "loadgen_toleration" {
  description = "The toleration Locust pods need for the tainted loadgen nodes."
  value       = { key = "nlp-bench/role", operator = "Equal", value = "loadgen", effect = "NoSchedule" }
}

output "node_role_arn" {
  description = "The nodes' IAM role."
  value       = aws_iam_role.node.arn
}

output "load_balancer_controller_role_arn" {
  description = "The load balancer controller's IRSA role."
  value       = module.load_balancer_controller_role.role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "The cluster autoscaler's IRSA role."
  value       = module.cluster_autoscaler_role.role_arn
}
