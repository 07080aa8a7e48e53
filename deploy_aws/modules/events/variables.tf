variable "bucket" {
  description = "The lake bucket"
  type        = string
}

variable "bucket_arn" {
  description = "The lake bucket's ARN (the only sender the queue accepts)"
  type        = string
}

variable "account_id" {
  description = "The account owning the bucket"
  type        = string
}

variable "queue_name" {
  description = "Name of the drops queue (the lab's taxilab.orchestration.drops.queue_name)"
  type        = string
}

variable "notification_id" {
  description = "Id of the bucket notification (the lab's NOTIFICATION_ID, so the lab refreshes the same one)"
  type        = string
}

variable "raw_prefix" {
  description = "Key prefix of the dataset's raw objects"
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "Above a drop's worst processing time"
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a message goes to the dead-letter queue"
  type        = number
}

variable "policies_dir" {
  description = "Directory of the policy JSON documents"
  type        = string
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
}
