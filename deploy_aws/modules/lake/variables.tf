variable "bucket" {
  description = "Name of the lake bucket"
  type        = string
}

variable "zone_lifecycle" {
  description = "Lifecycle per zone prefix (the map's keys are the prefixes, without the slash)"
  type = map(object({
    noncurrent_days        = number
    infrequent_access_days = number
    expire_days            = number
  }))
}

variable "force_destroy" {
  description = "Let terraform destroy delete a non-empty (versioned) bucket"
  type        = bool
}

variable "policies_dir" {
  description = "Directory of the policy JSON documents"
  type        = string
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
}
