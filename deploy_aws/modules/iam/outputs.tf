output "glue_role_arn" {
  description = "Role of the Glue jobs and crawlers"
  value       = aws_iam_role.glue.arn
}

output "redshift_role_arn" {
  description = "Role Redshift uses for COPY, UNLOAD and Spectrum"
  value       = aws_iam_role.redshift.arn
}
