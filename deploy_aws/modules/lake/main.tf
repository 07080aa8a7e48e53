# The lake: one bucket, one prefix per zone (raw/ staging/ quarantine/ curated/ scripts/ reference/).

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_18:access logging needs a second (log) bucket; the lab's demo account uses CloudTrail data events when needed
  #checkov:skip=CKV_AWS_144:cross-region replication doubles storage cost; every zone is rebuildable from the TLC source
  #checkov:skip=CKV2_AWS_62:the bucket's event notification (raw drops -> SQS) is aws_s3_bucket_notification in modules/events, which checkov's graph does not connect across modules
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) by design: a KMS key costs per month and per request and every role would need key grants (ADR 0015)
  bucket        = var.bucket
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  bucket     = aws_s3_bucket.lake.id
  policy     = templatefile("${var.policies_dir}/lake-bucket.json", { bucket = var.bucket })
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

# One rule per zone, each with an explicit prefix filter (a rule without one would apply to the whole bucket).
resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  #checkov:skip=CKV_AWS_300:every rule of the dynamic block below sets abort_incomplete_multipart_upload (1 day); checkov does not expand a dynamic block fed by a module variable
  bucket     = aws_s3_bucket.lake.id
  depends_on = [aws_s3_bucket_versioning.lake]

  dynamic "rule" {
    for_each = var.zone_lifecycle
    content {
      id     = "zone-${rule.key}"
      status = "Enabled"

      filter {
        prefix = "${rule.key}/"
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }

      noncurrent_version_expiration {
        noncurrent_days = rule.value.noncurrent_days
      }

      dynamic "transition" {
        for_each = rule.value.infrequent_access_days > 0 ? [rule.value.infrequent_access_days] : []
        content {
          days          = transition.value
          storage_class = "STANDARD_IA"
        }
      }

      dynamic "expiration" {
        for_each = rule.value.expire_days > 0 ? [rule.value.expire_days] : []
        content {
          days = expiration.value
        }
      }
    }
  }
}
