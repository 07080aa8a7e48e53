variable "catalog_databases" {
  description = "Glue database per lake zone"
  type        = map(string)
}

variable "crawlers" {
  description = "Crawlers from the job graph module (name, zone, path, exclusions)"
  type = map(object({
    name            = string
    declared        = string
    zone            = string
    database        = string
    path            = string
    exclusions      = list(string)
    update_behavior = string
    delete_behavior = string
  }))
}

variable "role_arn" {
  description = "Role the crawlers run as"
  type        = string
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
}
