variable "name" {
  description = "Prefix for every resource name (the project name)."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's IPv4 range; split into one public and one private subnet per zone."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.cidr_block))
    error_message = "cidr_block must be an IPv4 CIDR such as 10.42.0.0/16."
  }
}

variable "availability_zone_count" {
  description = "How many availability zones to span (EKS needs subnets in at least two)."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 4
    error_message = "availability_zone_count must be between 2 and 4."
  }
}

variable "cluster_name" {
  description = "EKS cluster whose load balancers use these subnets (the subnets get its discovery tag); null when there is no cluster."
  type        = string
  default     = null
}
