variable "declaration" {
  description = "taxilab/ops/alarms.json, decoded"
  type        = any
}

variable "profile" {
  description = "Value of $${profile} in alarm dimensions"
  type        = string
}

variable "job_names" {
  description = "Glue jobs whose state changes are routed to the topic"
  type        = list(string)
}

variable "alert_emails" {
  description = "Email addresses subscribed to the topic (each must confirm)"
  type        = list(string)
}

variable "account_id" {
  description = "The account (publishers are limited to it)"
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
