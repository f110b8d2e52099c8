variable "name" {
  description = "Repository name, e.g. nlp-bench-service."
  type        = string
}

variable "force_delete" {
  description = "Let terraform destroy delete the repository with its images in it (a benchmark's teardown must not stop at a non-empty repository)."
  type        = bool
  default     = true
}

variable "keep_tagged_images" {
  description = "How many tagged images the lifecycle policy keeps; older ones expire."
  type        = number
  default     = 20

  validation {
    condition     = var.keep_tagged_images >= 1
    error_message = "keep_tagged_images must be at least 1."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (layers of superseded pushes) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1
    error_message = "untagged_expiry_days must be at least 1."
  }
}

variable "allow_lambda_pull" {
  description = "Add a repository policy that lets Lambda functions of this account pull the image (container-image functions need it)."
  type        = bool
  default     = false
}
