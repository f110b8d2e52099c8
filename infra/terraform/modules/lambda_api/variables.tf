variable "name" {
  description = "Function name; also names the HTTP API, the role and the log groups."
  type        = string
}

variable "image_uri" {
  description = "The service image pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>. A tag is refused: the function must run exactly the image that was measured."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must be pinned by digest (<repository>@sha256:<64 hex>), not a tag."
  }
}

variable "architecture" {
  description = "Instruction set of the function: x86_64 or arm64. The image must be built for the same one (one platform per image; Lambda refuses image indexes)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Memory size in MB (128-10240); CPU scales with it, 1,769 MB = 1 vCPU."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number between 128 and 10240."
  }
}

variable "timeout_s" {
  description = "Function timeout in seconds (1-900). Behind an HTTP API anything past 30 s is cut by the gateway's integration timeout anyway."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout_s >= 1 && var.timeout_s <= 900
    error_message = "timeout_s must be between 1 and 900."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp in MB (512-10240), the only writable path in a Lambda environment."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240
    error_message = "ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions, or null for none (the default: new accounts' concurrency quota is often 10, and reserving from it is refused)."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null ? true : var.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be null or >= 0."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias; 0 for none. Billed per GB-second while it exists, used or not."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0
    error_message = "provisioned_concurrency must be >= 0."
  }
}

variable "alias_name" {
  description = "The alias the HTTP API invokes and provisioned concurrency attaches to."
  type        = string
  default     = "live"
}

variable "environment" {
  description = "Extra environment variables for the function (NLP_BENCH_* settings; never secrets)."
  type        = map(string)
  default     = {}
}

variable "log_format" {
  description = "Lambda log format: Text (REPORT lines as tab-separated text) or JSON (platform.report records)."
  type        = string
  default     = "Text"

  validation {
    condition     = contains(["Text", "JSON"], var.log_format)
    error_message = "log_format must be Text or JSON."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's and the API's logs."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ...)."
  }
}

variable "authorization" {
  description = "How the HTTP API authorises every request: AWS_IAM (SigV4-signed requests) or JWT (a bearer token from jwt_issuer for jwt_audience). There is no unauthenticated option."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "JWT"], var.authorization)
    error_message = "authorization must be AWS_IAM or JWT."
  }
}

variable "jwt_issuer" {
  description = "Issuer URL of the JWTs the API accepts (authorization = JWT), e.g. a Cognito user pool's https://cognito-idp.<region>.amazonaws.com/<pool id>."
  type        = string
  default     = null

  validation {
    condition     = var.authorization != "JWT" || try(startswith(var.jwt_issuer, "https://"), false)
    error_message = "authorization = JWT needs jwt_issuer, an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Audiences (client ids) the API accepts in a JWT's aud claim (authorization = JWT)."
  type        = list(string)
  default     = []

  validation {
    condition     = var.authorization != "JWT" || length(var.jwt_audience) > 0
    error_message = "authorization = JWT needs at least one jwt_audience."
  }
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second the API's default route admits before it answers 429 (a brake on a runaway load test's bill)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttle_rate_limit > 0
    error_message = "throttle_rate_limit must be > 0."
  }
}

variable "throttle_burst_limit" {
  description = "Requests the default route admits in a burst (token bucket size)."
  type        = number
  default     = 200

  validation {
    condition     = var.throttle_burst_limit > 0
    error_message = "throttle_burst_limit must be > 0."
  }
}
