variable "name_prefix" {
  description = "Prefix of role names"
  type        = string
}

variable "account_id" {
  description = "The account"
  type        = string
}

variable "region" {
  description = "The region"
  type        = string
}

variable "bucket" {
  description = "The lake bucket"
  type        = string
}

variable "catalog_databases" {
  description = "Glue database per lake zone"
  type        = map(string)
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the jobs may publish to (besides Glue)"
  type        = string
}

variable "redshift_workgroup_arn" {
  description = "Workgroup the load/validate jobs send Data API statements to"
  type        = string
}

variable "redshift_secret_arn" {
  description = "Secret with the warehouse admin credentials"
  type        = string
}

variable "policies_dir" {
  description = "Directory of the policy JSON documents"
  type        = string
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
}
