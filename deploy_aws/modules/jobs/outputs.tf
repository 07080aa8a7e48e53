output "job_names" {
  description = "Names of the Glue jobs"
  value       = [for j in aws_glue_job.job : j.name]
}

output "workflow_name" {
  description = "Name of the Glue workflow"
  value       = aws_glue_workflow.pipeline.name
}
