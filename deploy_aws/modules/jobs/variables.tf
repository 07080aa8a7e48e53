variable "bucket" {
  description = "The lake bucket (scripts and wheels go under scripts_prefix)"
  type        = string
}

variable "scripts_prefix" {
  description = "Key prefix of job scripts and wheels"
  type        = string
}

variable "repo_root" {
  description = "The repository root: job graph script paths are relative to it"
  type        = string
}

variable "wheel_dir" {
  description = "Directory holding the lab's built wheel (python -m build --wheel -> dist/)"
  type        = string
}

variable "role_arn" {
  description = "Role the jobs run as"
  type        = string
}

variable "jobs" {
  description = "Jobs from the job graph module"
  type        = any
}

variable "triggers" {
  description = "Triggers from the job graph module"
  type        = any
}

variable "workflow" {
  description = "Workflow from the job graph module"
  type        = object({ name = string, description = string, max_concurrent_runs = number })
}

variable "wheel_urls" {
  description = "s3:// URLs of the wheels the jobs install"
  type        = list(string)
}

variable "crawlers_by_name" {
  description = "Crawler names (from the catalog module, so triggers wait for the crawlers)"
  type        = map(string)
}

variable "common_job_arguments" {
  description = "Default arguments every job gets"
  type        = map(string)
}

variable "wheel_job_arguments" {
  description = "Default arguments of the jobs that import the lab (the aws profile's settings)"
  type        = map(string)
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
}
