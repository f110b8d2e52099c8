variable "name" {
  description = "Budget name."
  type        = string
}

variable "monthly_limit_usd" {
  description = "Monthly cost budget in US dollars."
  type        = number

  validation {
    condition     = var.monthly_limit_usd > 0
    error_message = "monthly_limit_usd must be > 0."
  }
}

variable "alert_emails" {
  description = "Addresses that get the alarms (actual spend past alert_threshold_percent of the limit, and a forecast past the whole limit)."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) > 0 && alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+$", e))])
    error_message = "alert_emails needs at least one e-mail address."
  }
}

variable "alert_threshold_percent" {
  description = "Percent of the monthly limit at which actual spend raises the first alarm."
  type        = number
  default     = 50

  validation {
    condition     = var.alert_threshold_percent > 0 && var.alert_threshold_percent <= 100
    error_message = "alert_threshold_percent must be in (0, 100]."
  }
}

variable "cost_filter_tag" {
  description = "Count only costs carrying this tag, as {key, value} (the key must be activated as a cost allocation tag in Billing first, which takes up to a day); null counts the whole account."
  type = object({
    key   = string
    value = string
  })
  default = null
}
