variable "namespace_name" {
  description = "Redshift Serverless namespace"
  type        = string
}

variable "workgroup_name" {
  description = "Redshift Serverless workgroup (TAXILAB_REDSHIFT_WORKGROUP)"
  type        = string
}

variable "database" {
  description = "Database the lab's DDL goes into (TAXILAB_REDSHIFT_DATABASE)"
  type        = string
}

variable "admin_username" {
  description = "Admin user; its password is managed by Secrets Manager"
  type        = string
}

variable "base_capacity" {
  description = "Base RPUs (8 is the smallest Redshift Serverless accepts)"
  type        = number
  validation {
    condition     = var.base_capacity >= 8 && var.base_capacity % 8 == 0
    error_message = "base_capacity must be a multiple of 8, at least 8 (Redshift Serverless' smallest)."
  }
}

variable "monthly_rpu_hours" {
  description = "Usage limit: RPU-hours a month before compute is deactivated"
  type        = number
}

variable "role_arn" {
  description = "The role Redshift uses for COPY, UNLOAD and Spectrum"
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the workgroup (empty = the default VPC's)"
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the workgroup (empty = the default VPC's default group)"
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
}
