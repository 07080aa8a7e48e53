variable "jobgraph_file" {
  description = "Path of the lab's job graph declaration (spark_jobs/jobgraph.json)"
  type        = string
}

variable "bucket" {
  description = "The lake bucket, substituted for $${bucket}"
  type        = string
}

variable "dataset" {
  description = "The dataset name, substituted for $${dataset}"
  type        = string
}

variable "catalog_databases" {
  description = "Glue database per lake zone"
  type        = map(string)
}

variable "scripts_prefix" {
  description = "Key prefix of job scripts and wheels in the lake bucket"
  type        = string
  default     = "scripts"
}
