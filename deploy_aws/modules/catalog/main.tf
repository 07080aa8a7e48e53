# Glue Data Catalog: one database per zone, one crawler per declared crawler and zone (schema change policy
# as declared in the job graph).

resource "aws_glue_catalog_database" "zone" {
  for_each    = var.catalog_databases
  name        = each.value
  description = "taxilab ${each.key} zone"
}

resource "aws_glue_crawler" "zone" {
  #checkov:skip=CKV_AWS_195:a Glue security configuration would only restate the bucket's SSE-S3 default; KMS for logs/bookmarks is out of the lab's cost model (ADR 0015)
  for_each      = var.crawlers
  name          = each.value.name
  role          = var.role_arn
  database_name = aws_glue_catalog_database.zone[each.value.zone].name

  s3_target {
    path       = each.value.path
    exclusions = each.value.exclusions
  }

  schema_change_policy {
    update_behavior = each.value.update_behavior
    delete_behavior = each.value.delete_behavior
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }

  configuration = jsonencode({
    Version       = 1.0
    CrawlerOutput = { Tables = { AddOrUpdateBehavior = "MergeNewColumns" } }
  })
  tags = var.tags
}
