output "databases" {
  description = "Glue database name per zone"
  value       = { for zone, db in aws_glue_catalog_database.zone : zone => db.name }
}

output "crawlers_by_name" {
  description = "Crawler names by name (a reference that orders triggers after crawlers)"
  value       = { for k, c in aws_glue_crawler.zone : k => c.name }
}
