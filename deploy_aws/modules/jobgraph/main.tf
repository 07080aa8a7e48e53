# The lab's job graph (spark_jobs/jobgraph.json) turned into the arguments of Glue resources: pure
# expressions, no provider, no resource. The jobs and catalog modules create resources from these
# outputs; tests/deploy evaluates this module with a real terraform binary and compares it with
# taxilab.core.jobgraph.to_aws, the lab's own translation of the same file.

locals {
  graph = jsondecode(file(var.jobgraph_file))

  # ${bucket} and ${dataset} are filled here; ${month} stays: every run passes --month (as to_aws keeps it).
  fill = { bucket = var.bucket, dataset = var.dataset }

  declared_crawlers = try(local.graph.crawlers, [])
  # Glue writes one crawler's tables into one database and the lab keeps one database per zone, so each
  # declared crawler becomes one Glue crawler per zone, named <name>-<zone> (as to_aws does).
  crawler_names = { for c in local.declared_crawlers : c.name => [for z in c.zones : "${c.name}-${z}"] }

  jobs = {
    for j in local.graph.jobs : j.name => {
      name            = j.name
      command         = try(j.command, "glueetl")
      script          = j.script
      script_key      = "${var.scripts_prefix}/${j.script}"
      script_location = "s3://${var.bucket}/${var.scripts_prefix}/${j.script}"
      glue_version    = tostring(try(j.glue_version, try(j.command, "glueetl") == "pythonshell" ? "3.0" : local.graph.glue_version))
      python_version  = try(j.command, "glueetl") == "pythonshell" ? tostring(j.python_version) : "3"
      worker_type     = try(j.worker_type, null)
      workers         = try(tonumber(j.number_of_workers), null)
      max_capacity    = try(tonumber(j.max_capacity), null)
      timeout         = tonumber(j.timeout_minutes)
      max_retries     = tonumber(j.max_retries)
      bookmark        = try(j.bookmark, "job-bookmark-disable")
      uses_wheel      = length(try(j.aws_arguments, {})) > 0
      default_arguments = tomap(merge(
        { for k, v in try(j.arguments, {}) : k => replace(replace(v, "$${bucket}", local.fill.bucket), "$${dataset}", local.fill.dataset) },
        try(j.command, "glueetl") == "pythonshell" ? {} : { "--job-bookmark-option" = try(j.bookmark, "job-bookmark-disable") },
        { for k, v in try(j.aws_arguments, {}) : k => replace(replace(v, "$${bucket}", local.fill.bucket), "$${dataset}", local.fill.dataset) },
      ))
    }
  }

  crawlers = merge([
    for c in local.declared_crawlers : {
      for z in c.zones : "${c.name}-${z}" => {
        name       = "${c.name}-${z}"
        declared   = c.name
        zone       = z
        database   = var.catalog_databases[z]
        path       = "s3://${var.bucket}/${z}/"
        exclusions = ["**/_*", "**/.*"]
        # Glue's defaults where the declaration leaves a field out (as taxilab.core.jobgraph does)
        update_behavior = try(c.schema_change_policy.UpdateBehavior, "UPDATE_IN_DATABASE")
        delete_behavior = try(c.schema_change_policy.DeleteBehavior, "DELETE_FROM_DATABASE")
      }
    }
  ]...)

  triggers = {
    for t in local.graph.workflow.triggers : t.name => {
      name              = t.name
      type              = t.type
      schedule          = t.type == "SCHEDULED" ? t.schedule : null
      start_on_creation = t.type != "ON_DEMAND"
      logical           = t.type == "CONDITIONAL" ? try(t.predicate.logical, "AND") : null
      conditions = t.type != "CONDITIONAL" ? [] : flatten([
        for c in t.predicate.conditions : try(c.job, null) != null
        ? [{ job_name = c.job, state = c.state, crawler_name = null, crawl_state = null }]
        : [for n in local.crawler_names[c.crawler] : { job_name = null, state = null, crawler_name = n, crawl_state = c.state }]
      ])
      actions = flatten([
        for a in t.actions : try(a.job, null) != null
        ? [{ job_name = a.job, crawler_name = null }]
        : [for n in local.crawler_names[a.crawler] : { job_name = null, crawler_name = n }]
      ])
    }
  }

  # Every object the jobs read from scripts/: the job scripts, and the wheels named in aws_arguments.
  wheel_urls = distinct(flatten([
    for j in local.graph.jobs : [for k, v in try(j.aws_arguments, {}) : replace(replace(v, "$${bucket}", var.bucket), "$${dataset}", var.dataset) if endswith(v, ".whl")]
  ]))
}
