# Names the lab's settings use (taxilab/core/settings.py, spark_jobs/io/paths.py): kept here once, as
# defaults; tests/deploy/test_terraform_structure.py fails when they drift apart.

variable "region" {
  description = "AWS region (TAXILAB_REGION)"
  type        = string
  default     = "us-east-1"
}

variable "bucket" {
  description = "The lake bucket (Settings.bucket). S3 names are global: override it (TF_VAR_bucket) if taken"
  type        = string
  default     = "taxilab-lake"
}

variable "dataset" {
  description = "The dataset (Settings.dataset)"
  type        = string
  default     = "nyc_taxi"
}

variable "catalog_databases" {
  description = "Glue database per lake zone (Settings.catalog_databases)"
  type        = map(string)
  default = {
    raw        = "taxilab_raw"
    staging    = "taxilab_staging"
    quarantine = "taxilab_quarantine"
    curated    = "taxilab_curated"
  }
}

variable "warehouse_schema" {
  description = "Schema of the lab's tables in Redshift (Settings.warehouse_schema; created by the lab's DDL)"
  type        = string
  default     = "taxi"
}

variable "scripts_prefix" {
  description = "Key prefix of job scripts and the lab's wheel"
  type        = string
  default     = "scripts"
}

# Every prefix of the lake has its rule (each with an explicit prefix filter).
variable "zone_lifecycle" {
  description = "Lifecycle per lake prefix: noncurrent versions kept N days, STANDARD_IA after N days (0 = never), expiry after N days (0 = never)"
  type = map(object({
    noncurrent_days        = number
    infrequent_access_days = number
    expire_days            = number
  }))
  default = {
    raw        = { noncurrent_days = 30, infrequent_access_days = 90, expire_days = 0 }
    staging    = { noncurrent_days = 7, infrequent_access_days = 0, expire_days = 0 }
    quarantine = { noncurrent_days = 7, infrequent_access_days = 0, expire_days = 365 }
    curated    = { noncurrent_days = 7, infrequent_access_days = 0, expire_days = 0 }
    scripts    = { noncurrent_days = 30, infrequent_access_days = 0, expire_days = 0 }
    reference  = { noncurrent_days = 30, infrequent_access_days = 0, expire_days = 0 }
  }
}

variable "force_destroy" {
  description = "terraform destroy deletes the lake with its objects (a lab: everything is rebuildable)"
  type        = bool
  default     = true
}

variable "name_prefix" {
  description = "Prefix of the names of roles, the warehouse and queues"
  type        = string
  default     = "taxilab"
}

variable "wheel_dir" {
  description = "Where the lab's wheel is built (make deploy runs python -m build --wheel first)"
  type        = string
  default     = null
}

variable "redshift_database" {
  description = "Database in the Redshift namespace (Settings.redshift_database)"
  type        = string
  default     = "dev"
}

variable "redshift_admin_username" {
  description = "Warehouse admin user (password generated and kept by Secrets Manager)"
  type        = string
  default     = "taxilab_admin"
}

variable "redshift_base_capacity" {
  description = "Redshift Serverless base RPUs: 8, the smallest"
  type        = number
  default     = 8
}

variable "redshift_monthly_rpu_hours" {
  description = "Usage limit: RPU-hours a month, then compute is deactivated (8 RPU x 4 h = 32)"
  type        = number
  default     = 32
}

variable "redshift_subnet_ids" {
  description = "Workgroup subnets (empty = the default VPC's)"
  type        = list(string)
  default     = []
}

variable "redshift_security_group_ids" {
  description = "Workgroup security groups (empty = the default VPC's default group)"
  type        = list(string)
  default     = []
}

variable "drops_visibility_timeout_seconds" {
  description = "Drops queue visibility timeout (the lab creates its queue with 600)"
  type        = number
  default     = 600
}

variable "drops_max_receive_count" {
  description = "Receives before a drop message goes to the dead-letter queue"
  type        = number
  default     = 5
}

variable "alert_emails" {
  description = "Email addresses subscribed to the alerts topic"
  type        = list(string)
  default     = []
}
