variable "name_prefix" {
  description = "Bucket name prefix; S3 appends a unique suffix (bucket names are global)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,36}$", var.name_prefix))
    error_message = "name_prefix must be 3-37 lower-case letters, digits or hyphens."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy empty the bucket, every object version included (teardown must not stop at a non-empty bucket). Set false to keep results past teardown."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiry_days" {
  description = "Days an overwritten or deleted object version is kept before it expires."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiry_days >= 1
    error_message = "noncurrent_version_expiry_days must be at least 1."
  }
}
