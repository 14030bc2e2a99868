resource "aws_s3_bucket" "pipeline" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision for the platform; inputs live in git and outputs can be regenerated.
  #checkov:skip=CKV_AWS_18:Server access logs need a separate log bucket owned by the platform; CloudTrail data events are the audit trail.
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_versioning" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "pipeline" {
  bucket                  = aws_s3_bucket.pipeline.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# The outputs lifecycle rule: an output is overwritten in place when its input is reprocessed, so
# superseded versions of outputs and error records expire; incomplete uploads are cleaned up.
resource "aws_s3_bucket_lifecycle_configuration" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  rule {
    id     = "expire-superseded-outputs"
    status = "Enabled"

    filter {
      prefix = local.outputs_prefix
    }

    noncurrent_version_expiration {
      noncurrent_days = var.outputs_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-superseded-errors"
    status = "Enabled"

    filter {
      prefix = local.errors_prefix
    }

    noncurrent_version_expiration {
      noncurrent_days = var.outputs_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # Generation records matter only between a state machine's Invoke and Publish stages
  # (minutes); they are kept as long as Step Functions allows a failed execution to be
  # redriven (14 days), then expire.
  rule {
    id     = "expire-generations"
    status = "Enabled"

    filter {
      prefix = local.generated_prefix
    }

    expiration {
      days = var.generations_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# The prefixes, as folder markers so they show in the console and `aws s3 ls` before first use.
# None ends in `.json`, so none triggers the pipeline.
resource "aws_s3_object" "prefixes" {
  for_each = toset([local.inputs_prefix, local.templates_prefix, local.outputs_prefix, local.errors_prefix])

  bucket  = aws_s3_bucket.pipeline.id
  key     = each.value
  content = ""

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.pipeline]
}

data "aws_iam_policy_document" "bucket_tls_only" {
  # The one wildcard action of the project: a Deny can only take privileges away, and a TLS-only
  # policy must cover every S3 action. The IAM check allow-lists exactly this shape (Deny, s3:*,
  # aws:SecureTransport = false).
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.pipeline.arn, "${aws_s3_bucket.pipeline.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id
  policy = data.aws_iam_policy_document.bucket_tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.pipeline]
}

# Seed 000: the upload of a config under `prompt_inputs/` triggers the Lambda directly.
resource "aws_lambda_permission" "s3_invoke" {
  statement_id   = "AllowS3Notification"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.pipeline.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.pipeline.arn
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "inputs" {
  bucket = aws_s3_bucket.pipeline.id

  lambda_function {
    lambda_function_arn = aws_lambda_function.pipeline.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.inputs_prefix
    filter_suffix       = local.inputs_suffix
  }

  depends_on = [aws_lambda_permission.s3_invoke]
}
