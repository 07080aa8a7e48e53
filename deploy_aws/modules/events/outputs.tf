output "queue_url" {
  description = "URL of the drops queue"
  value       = aws_sqs_queue.drops.id
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue"
  value       = aws_sqs_queue.dead_letter.id
}
