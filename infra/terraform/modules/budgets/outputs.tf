output "budget_name" {
  description = "The budget's name."
  value       = aws_budgets_budget.monthly.name
}

output "monthly_limit_usd" {
  description = "The monthly limit in US dollars."
  value       = var.monthly_limit_usd
}
