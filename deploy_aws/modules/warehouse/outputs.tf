output "workgroup_name" {
  description = "Workgroup name"
  value       = aws_redshiftserverless_workgroup.warehouse.workgroup_name
}

output "workgroup_arn" {
  description = "Workgroup ARN (the Data API statements' resource)"
  value       = aws_redshiftserverless_workgroup.warehouse.arn
}

output "database" {
  description = "Database name"
  value       = aws_redshiftserverless_namespace.warehouse.db_name
}

output "admin_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the admin credentials"
  value       = aws_redshiftserverless_namespace.warehouse.admin_password_secret_arn
}
