output "topic_arn" {
  description = "ARN of the alerts topic"
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms"
  value       = [for a in aws_cloudwatch_metric_alarm.declared : a.alarm_name]
}
