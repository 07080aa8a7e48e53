# Read by `make deploy-env` (deploy_aws/scripts/outputs_to_env.py): each output named in
# outputs_to_env.FIELDS becomes one TAXILAB_* setting of the aws profile in .lab/aws.env.

output "region" {
  description = "TAXILAB_REGION"
  value       = var.region
}

output "bucket" {
  description = "TAXILAB_BUCKET"
  value       = module.lake.bucket
}

output "dataset" {
  description = "TAXILAB_DATASET"
  value       = var.dataset
}

output "catalog_databases" {
  description = "TAXILAB_CATALOG_DATABASES__<ZONE>"
  value       = module.catalog.databases
}

output "warehouse_schema" {
  description = "TAXILAB_WAREHOUSE_SCHEMA"
  value       = var.warehouse_schema
}

output "redshift_workgroup" {
  description = "TAXILAB_REDSHIFT_WORKGROUP"
  value       = module.warehouse.workgroup_name
}

output "redshift_database" {
  description = "TAXILAB_REDSHIFT_DATABASE"
  value       = module.warehouse.database
}

output "redshift_secret_arn" {
  description = "TAXILAB_REDSHIFT_SECRET_ARN (an ARN, not a password)"
  value       = module.warehouse.admin_secret_arn
}

output "redshift_iam_role" {
  description = "TAXILAB_REDSHIFT_IAM_ROLE (COPY/UNLOAD/Spectrum)"
  value       = module.iam.redshift_role_arn
}

output "glue_role_arn" {
  description = "Role of the Glue jobs and crawlers"
  value       = module.iam.glue_role_arn
}

output "glue_workflow" {
  description = "The Glue workflow"
  value       = module.jobs.workflow_name
}

output "drops_queue_url" {
  description = "Queue of raw drop events"
  value       = module.events.queue_url
}

output "alerts_topic_arn" {
  description = "SNS topic of alarms, Glue job failures and budget notifications"
  value       = module.monitoring.topic_arn
}
