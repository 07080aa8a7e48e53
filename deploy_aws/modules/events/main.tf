# Daily drops: a new raw Parquet object raises an S3 event to an SQS queue (the lab's consumer long-polls
# it, taxilab.orchestration.drops); messages that fail max_receive_count times move to a dead-letter queue.

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "drops" {
  name                       = var.queue_name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.drops.arn]
  })
}

resource "aws_sqs_queue_policy" "drops" {
  queue_url = aws_sqs_queue.drops.id
  policy = templatefile("${var.policies_dir}/drops-queue.json", {
    queue_arn  = aws_sqs_queue.drops.arn
    bucket_arn = var.bucket_arn
    account_id = var.account_id
  })
}

resource "aws_s3_bucket_notification" "raw_drops" {
  bucket = var.bucket
  queue {
    id            = var.notification_id
    queue_arn     = aws_sqs_queue.drops.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.raw_prefix
    filter_suffix = ".parquet"
  }
  depends_on = [aws_sqs_queue_policy.drops]
}
