variable "name" {
  description = "Name of the instance, its role and its security group."
  type        = string
}

variable "vpc_id" {
  description = "VPC the instance runs in."
  type        = string
}

variable "subnet_id" {
  description = "A private subnet (no public address; egress through the NAT gateway)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type. The load generator shares it with the Dagster webserver and daemon, so give it cores: a saturated load generator measures itself."
  type        = string
  default     = "c6i.xlarge"
}

variable "architecture" {
  description = "Instruction set of the instance and of the pipeline image it runs: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "root_volume_gib" {
  description = "Size of the encrypted gp3 root volume in GiB (the pipeline image, DuckDB, run files)."
  type        = number
  default     = 60

  validation {
    condition     = var.root_volume_gib >= 30
    error_message = "root_volume_gib must be at least 30 (the pipeline image alone is several GB)."
  }
}

variable "ecr_repository_arns" {
  description = "ECR repositories the instance may pull from (the pipeline image's)."
  type        = list(string)
}

variable "pipeline_image" {
  description = "The pipeline image pinned by digest (<repo>@sha256:...) started at boot as the Dagster webserver and daemon on 127.0.0.1:3000; null boots a host with Docker and nothing running."
  type        = string
  default     = null

  validation {
    condition     = var.pipeline_image == null || can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.pipeline_image))
    error_message = "pipeline_image must be pinned by digest (<repository>@sha256:<64 hex>)."
  }
}

variable "results_bucket_arn" {
  description = "The one S3 bucket the instance may read and write (load-generator results)."
  type        = string
}

variable "ui_port" {
  description = "Port of the Dagster UI, bound to 127.0.0.1 on the instance and reached only through an SSM port-forward."
  type        = number
  default     = 3000
}

variable "egress_cidrs" {
  description = "Where the instance may open HTTPS connections (SSM, ECR, S3, package mirrors, the HTTP API). The VPC's own range is always allowed on every TCP port (the internal ALB)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "vpc_cidr_block" {
  description = "The VPC's range; the instance may reach anything in it on TCP (the internal ALB, the Kubernetes API)."
  type        = string
}

variable "deployer_role_arn" {
  description = "The deployers' role (the deployer_role module): the instance may assume it, and the pipeline container does, through an AWS profile written at boot. null: the instance profile's own rights only."
  type        = string
  default     = null
}

variable "pipeline_environment" {
  description = "NLP_BENCH_* settings of the pipeline container (the results bucket, the pipeline image, the EKS cluster); never secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.pipeline_environment) : can(regex("^NLP_BENCH_[A-Z0-9_]+$", name))])
    error_message = "pipeline_environment takes NLP_BENCH_* settings only."
  }
}
