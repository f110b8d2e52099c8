variable "name" {
  description = "Cluster name; also prefixes its roles, node groups and log group."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version. Pick one in EKS standard support: extended support bills the control plane at $0.60/h instead of $0.10/h."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.35."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster (the load balancer controller needs it: pods cannot reach the node's metadata service)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's network interfaces and the nodes (two zones at least)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "endpoint_public_access" {
  description = "Serve the Kubernetes API on a public endpoint (limited to public_access_cidrs) as well as inside the VPC; false leaves only the private endpoint (then kubectl must run inside the VPC, e.g. on the app server)."
  type        = bool
  default     = true
}

variable "public_access_cidrs" {
  description = "Networks allowed to reach the public API endpoint, e.g. [\"203.0.113.7/32\"] for one laptop."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrnetmask(c))])
    error_message = "public_access_cidrs must be IPv4 CIDRs."
  }
}

variable "cluster_admin_principal_arns" {
  description = "IAM principals (roles, users) given cluster-admin through EKS access entries, beyond whoever runs terraform apply (that one is admin from the start)."
  type        = list(string)
  default     = []
}

variable "node_architecture" {
  description = "Instruction set of every node: x86_64 or arm64 (the images pulled must be built for it)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.node_architecture)
    error_message = "node_architecture must be x86_64 or arm64."
  }
}

variable "service_nodes" {
  description = "The node group the inference pods (and the controllers) run on: instance types, size bounds, root volume GiB."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = number
  })
  nullable = false
  default = {
    instance_types = ["c6i.large"]
    min_size       = 1
    desired_size   = 2
    max_size       = 4
    disk_gib       = 40
  }

  validation {
    condition     = var.service_nodes.min_size <= var.service_nodes.desired_size && var.service_nodes.desired_size <= var.service_nodes.max_size && var.service_nodes.max_size >= 1
    error_message = "service_nodes needs min_size <= desired_size <= max_size and max_size >= 1."
  }
}

variable "loadgen_nodes" {
  description = "The node group only Locust pods run on (tainted, so load generation never shares a node with what it measures)."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = number
  })
  nullable = false
  default = {
    instance_types = ["c6i.large"]
    min_size       = 1
    desired_size   = 1
    max_size       = 2
    disk_gib       = 40
  }

  validation {
    condition     = var.loadgen_nodes.min_size <= var.loadgen_nodes.desired_size && var.loadgen_nodes.desired_size <= var.loadgen_nodes.max_size && var.loadgen_nodes.max_size >= 1
    error_message = "loadgen_nodes needs min_size <= desired_size <= max_size and max_size >= 1."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the control plane's logs."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ...)."
  }
}

variable "load_balancer_controller_chart_version" {
  description = "Version of the eks-charts aws-load-balancer-controller chart (its IAM policy in load_balancer_controller.tf is that release's docs/install/iam_policy.json)."
  type        = string
  default     = "3.5.0"
}

variable "cluster_autoscaler_chart_version" {
  description = "Version of the kubernetes/autoscaler cluster-autoscaler chart; the autoscaler image itself follows kubernetes_version (v<version>.0)."
  type        = string
  default     = "9.59.0"
}
