# Operations: one SNS topic; the CloudWatch alarms declared in taxilab/ops/alarms.json (one
# aws_cloudwatch_metric_alarm per entry, keys mapped 1:1); an EventBridge rule on Glue job state changes;
# an AWS Budget (the whole account's cost: deploy the demo into its own account) notifying at the declared
# thresholds.

locals {
  alarms = { for a in var.declaration.alarms : a.alarm_name => a }
}

resource "aws_sns_topic" "alerts" {
  #checkov:skip=CKV_AWS_26:EventBridge, CloudWatch and Budgets cannot publish to a topic under the AWS-managed SNS key, and a customer managed key is out of the lab's cost model (ADR 0015)
  name = var.declaration.sns_topic
  tags = var.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = templatefile("${var.policies_dir}/alerts-topic.json", {
    topic_arn  = aws_sns_topic.alerts.arn
    account_id = var.account_id
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "declared" {
  for_each            = local.alarms
  alarm_name          = each.value.alarm_name
  alarm_description   = try(each.value.alarm_description, null)
  namespace           = try(each.value.namespace, var.declaration.namespace)
  metric_name         = each.value.metric_name
  dimensions          = { for k, v in try(each.value.dimensions, {}) : k => replace(v, "$${profile}", var.profile) }
  statistic           = try(each.value.statistic, null)
  extended_statistic  = try(each.value.extended_statistic, null)
  unit                = try(each.value.unit, null)
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = try(each.value.datapoints_to_alarm, null)
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = try(each.value.treat_missing_data, "missing")
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = try(each.value.ok_actions_enabled, false) ? [aws_sns_topic.alerts.arn] : []
  tags                = var.tags
}

resource "aws_cloudwatch_event_rule" "glue_job_state" {
  name        = var.declaration.glue_job_state_rule.name
  description = "Glue job runs of the lab ending ${join("/", var.declaration.glue_job_state_rule.states)}"
  event_pattern = jsonencode({
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = var.job_names
      state   = var.declaration.glue_job_state_rule.states
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "glue_job_state" {
  rule = aws_cloudwatch_event_rule.glue_job_state.name
  arn  = aws_sns_topic.alerts.arn
}

resource "aws_budgets_budget" "monthly" {
  name         = var.declaration.budget.name
  budget_type  = "COST"
  limit_amount = format("%.2f", var.declaration.budget.limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "notification" {
    for_each = var.declaration.budget.thresholds_percent
    content {
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value
      threshold_type            = "PERCENTAGE"
      notification_type         = "ACTUAL"
      subscriber_sns_topic_arns = [aws_sns_topic.alerts.arn]
    }
  }
  depends_on = [aws_sns_topic_policy.alerts]
}
