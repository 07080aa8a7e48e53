# One role per actor, each policy a JSON document in deploy_aws/policies/ rendered with templatefile():
# the same files tests/integration/test_least_privilege.py renders (same placeholders) and proves
# against the emulator with IAM enforcement.
#   glue     - Glue jobs and crawlers (the etl, aggregates, crawl, load-warehouse and validate stages)
#   redshift - Redshift Serverless for COPY, UNLOAD and Spectrum

locals {
  vars = {
    account_id             = var.account_id
    region                 = var.region
    bucket                 = var.bucket
    raw_db                 = var.catalog_databases["raw"]
    staging_db             = var.catalog_databases["staging"]
    quarantine_db          = var.catalog_databases["quarantine"]
    curated_db             = var.catalog_databases["curated"]
    metrics_namespace      = var.metrics_namespace
    redshift_workgroup_arn = var.redshift_workgroup_arn
    redshift_secret_arn    = var.redshift_secret_arn
  }
}

resource "aws_iam_role" "glue" {
  name                 = "${var.name_prefix}-glue"
  description          = "taxilab Glue jobs and crawlers"
  assume_role_policy   = templatefile("${var.policies_dir}/glue-trust.json", local.vars)
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "glue" {
  name   = "${var.name_prefix}-glue"
  role   = aws_iam_role.glue.id
  policy = templatefile("${var.policies_dir}/glue-job-role.json", local.vars)
}

resource "aws_iam_role" "redshift" {
  name                 = "${var.name_prefix}-redshift"
  description          = "taxilab Redshift Serverless: COPY, UNLOAD, Spectrum"
  assume_role_policy   = templatefile("${var.policies_dir}/redshift-trust.json", local.vars)
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "redshift" {
  name   = "${var.name_prefix}-redshift"
  role   = aws_iam_role.redshift.id
  policy = templatefile("${var.policies_dir}/redshift-role.json", local.vars)
}
