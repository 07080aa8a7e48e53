output "glue_version" {
  description = "The declaration's Glue version"
  value       = tostring(local.graph.glue_version)
}

output "jobs" {
  description = "Glue jobs by name, with their filled default arguments"
  value       = local.jobs
}

output "crawlers" {
  description = "Glue crawlers by name (one per declared crawler and zone)"
  value       = local.crawlers
}

output "workflow" {
  description = "The workflow's name"
  value       = { name = local.graph.workflow.name, max_concurrent_runs = 1, description = "taxilab monthly pipeline" }
}

output "triggers" {
  description = "Workflow triggers by name, crawler references expanded to the per-zone crawlers"
  value       = local.triggers
}

output "wheel_urls" {
  description = "s3:// URLs of the wheels the jobs install (--additional-python-modules)"
  value       = local.wheel_urls
}
