# Glue 5.0 jobs, their scripts and the lab's wheel, the workflow and its triggers: all from the job graph
# module's outputs (spark_jobs/jobgraph.json), nothing retyped.

locals {
  scripts = toset([for j in values(var.jobs) : j.script])
  wheels  = { for url in var.wheel_urls : trimprefix(url, "s3://${var.bucket}/") => basename(url) }
}

resource "aws_s3_object" "script" {
  #checkov:skip=CKV_AWS_186:objects take the bucket's default SSE-S3 encryption; no KMS key by design (ADR 0015)
  for_each = local.scripts
  bucket   = var.bucket
  key      = "${var.scripts_prefix}/${each.value}"
  source   = "${var.repo_root}/${each.value}"
  etag     = filemd5("${var.repo_root}/${each.value}")
  tags     = var.tags
}

# The lab's package as a wheel (make deploy builds it into dist/ first), installed by the jobs that import
# the lab (--additional-python-modules names its S3 URL in the job graph).
resource "aws_s3_object" "wheel" {
  #checkov:skip=CKV_AWS_186:objects take the bucket's default SSE-S3 encryption; no KMS key by design (ADR 0015)
  for_each = local.wheels
  bucket   = var.bucket
  key      = each.key
  source   = "${var.wheel_dir}/${each.value}"
  etag     = filemd5("${var.wheel_dir}/${each.value}")
  tags     = var.tags
}

resource "aws_glue_job" "job" {
  #checkov:skip=CKV_AWS_195:a Glue security configuration would only restate the bucket's SSE-S3 default; KMS for logs/bookmarks is out of the lab's cost model (ADR 0015)
  for_each          = var.jobs
  name              = each.value.name
  role_arn          = var.role_arn
  glue_version      = each.value.glue_version
  worker_type       = each.value.worker_type
  number_of_workers = each.value.workers
  max_capacity      = each.value.max_capacity
  timeout           = each.value.timeout
  max_retries       = each.value.max_retries

  command {
    name            = each.value.command
    script_location = each.value.script_location
    python_version  = each.value.python_version
  }

  default_arguments = merge(
    var.common_job_arguments,
    each.value.uses_wheel ? var.wheel_job_arguments : {},
    each.value.default_arguments,
  )

  execution_property {
    max_concurrent_runs = 1
  }

  tags       = var.tags
  depends_on = [aws_s3_object.script, aws_s3_object.wheel]
}

resource "aws_glue_workflow" "pipeline" {
  name                = var.workflow.name
  description         = var.workflow.description
  max_concurrent_runs = var.workflow.max_concurrent_runs
  tags                = var.tags
}

resource "aws_glue_trigger" "trigger" {
  for_each          = var.triggers
  name              = each.value.name
  type              = each.value.type
  workflow_name     = aws_glue_workflow.pipeline.name
  schedule          = each.value.schedule
  start_on_creation = each.value.type == "ON_DEMAND" ? null : each.value.start_on_creation

  dynamic "actions" {
    for_each = each.value.actions
    content {
      job_name     = actions.value.job_name == null ? null : aws_glue_job.job[actions.value.job_name].name
      crawler_name = actions.value.crawler_name == null ? null : var.crawlers_by_name[actions.value.crawler_name]
    }
  }

  dynamic "predicate" {
    for_each = each.value.type == "CONDITIONAL" ? [each.value] : []
    content {
      logical = predicate.value.logical
      dynamic "conditions" {
        for_each = predicate.value.conditions
        content {
          logical_operator = "EQUALS"
          job_name         = conditions.value.job_name == null ? null : aws_glue_job.job[conditions.value.job_name].name
          state            = conditions.value.state
          crawler_name     = conditions.value.crawler_name == null ? null : var.crawlers_by_name[conditions.value.crawler_name]
          crawl_state      = conditions.value.crawl_state
        }
      }
    }
  }

  tags = var.tags
}
