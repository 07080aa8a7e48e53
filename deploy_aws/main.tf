# taxilab on AWS. Every name the lab declares comes from the lab's own files: the job graph
# (spark_jobs/jobgraph.json) through modules/jobgraph, the alarms (taxilab/ops/alarms.json) through
# modules/monitoring, and bucket / dataset / database names from variables.tf (equal to the settings').

data "aws_caller_identity" "current" {}

locals {
  repo_root    = abspath("${path.root}/..")
  policies_dir = "${path.root}/policies"
  account_id   = data.aws_caller_identity.current.account_id
  tags         = { project = var.name_prefix, managed_by = "terraform", source = "taxilab/deploy_aws" }
  alarms       = jsondecode(file("${path.root}/../taxilab/ops/alarms.json"))
  # The lab's drops wiring (taxilab.orchestration.drops): queue "<bucket>-raw-drops", notification id.
  drops_queue_name      = substr("${var.bucket}-raw-drops", 0, 80)
  drops_notification_id = "taxilab-raw-drops"
}

module "jobgraph" {
  source            = "./modules/jobgraph"
  jobgraph_file     = "${path.root}/../spark_jobs/jobgraph.json"
  bucket            = var.bucket
  dataset           = var.dataset
  catalog_databases = var.catalog_databases
  scripts_prefix    = var.scripts_prefix
}

module "lake" {
  source         = "./modules/lake"
  bucket         = var.bucket
  zone_lifecycle = var.zone_lifecycle
  force_destroy  = var.force_destroy
  policies_dir   = local.policies_dir
  tags           = local.tags
}

module "iam" {
  source                 = "./modules/iam"
  name_prefix            = var.name_prefix
  account_id             = local.account_id
  region                 = var.region
  bucket                 = module.lake.bucket
  catalog_databases      = var.catalog_databases
  metrics_namespace      = local.alarms.namespace
  redshift_workgroup_arn = module.warehouse.workgroup_arn
  redshift_secret_arn    = module.warehouse.admin_secret_arn
  policies_dir           = local.policies_dir
  tags                   = local.tags
}

module "catalog" {
  source            = "./modules/catalog"
  catalog_databases = var.catalog_databases
  crawlers          = module.jobgraph.crawlers
  role_arn          = module.iam.glue_role_arn
  tags              = local.tags
}

module "jobs" {
  source           = "./modules/jobs"
  bucket           = module.lake.bucket
  scripts_prefix   = var.scripts_prefix
  repo_root        = local.repo_root
  wheel_dir        = coalesce(var.wheel_dir, "${local.repo_root}/dist")
  role_arn         = module.iam.glue_role_arn
  jobs             = module.jobgraph.jobs
  triggers         = module.jobgraph.triggers
  workflow         = module.jobgraph.workflow
  wheel_urls       = module.jobgraph.wheel_urls
  crawlers_by_name = module.catalog.crawlers_by_name
  common_job_arguments = {
    "--enable-metrics"                   = "true"
    "--enable-continuous-cloudwatch-log" = "true"
  }
  # A Glue job has no TAXILAB_* environment: the jobs that import the lab get the aws profile's
  # settings as arguments (taxilab/warehouse/glue_job.py SETTINGS_ARGS).
  wheel_job_arguments = {
    "--profile"             = "aws"
    "--redshift_workgroup"  = module.warehouse.workgroup_name
    "--redshift_database"   = module.warehouse.database
    "--redshift_secret_arn" = module.warehouse.admin_secret_arn
    "--redshift_iam_role"   = module.iam.redshift_role_arn
    "--warehouse_schema"    = var.warehouse_schema
  }
  tags = local.tags
}

module "events" {
  source                     = "./modules/events"
  bucket                     = module.lake.bucket
  bucket_arn                 = module.lake.bucket_arn
  account_id                 = local.account_id
  queue_name                 = local.drops_queue_name
  notification_id            = local.drops_notification_id
  raw_prefix                 = "raw/dataset=${var.dataset}/"
  visibility_timeout_seconds = var.drops_visibility_timeout_seconds
  max_receive_count          = var.drops_max_receive_count
  policies_dir               = local.policies_dir
  tags                       = local.tags
}

module "warehouse" {
  source             = "./modules/warehouse"
  namespace_name     = var.name_prefix
  workgroup_name     = var.name_prefix
  database           = var.redshift_database
  admin_username     = var.redshift_admin_username
  base_capacity      = var.redshift_base_capacity
  monthly_rpu_hours  = var.redshift_monthly_rpu_hours
  role_arn           = module.iam.redshift_role_arn
  subnet_ids         = var.redshift_subnet_ids
  security_group_ids = var.redshift_security_group_ids
  tags               = local.tags
}

module "monitoring" {
  source       = "./modules/monitoring"
  declaration  = local.alarms
  profile      = "aws"
  job_names    = module.jobs.job_names
  alert_emails = var.alert_emails
  account_id   = local.account_id
  policies_dir = local.policies_dir
  tags         = local.tags
}
