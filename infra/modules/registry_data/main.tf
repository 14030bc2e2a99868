# The registry's data: seed 001's DynamoDB table (hash key `prompt_key`, range key `version`) and
# the S3 bucket of prompt documents (`prompts/{id}/{version}/{sha256}.json`, written by
# promptops-registry's DynamoDB + S3 store).

data "aws_caller_identity" "current" {}

locals {
  table_name  = coalesce(var.table_name, "${var.resource_prefix}-${var.environment}-prompt-registry")
  bucket_name = coalesce(var.bucket_name, "${var.resource_prefix}-${var.environment}-prompt-registry-${data.aws_caller_identity.current.account_id}")
}

resource "aws_dynamodb_table" "prompts" {
  #checkov:skip=CKV_AWS_119:Encrypted with KMS always; the key is the caller's CMK when kms_key_arn is given, else the AWS-managed aws/dynamodb key (checkov cannot see through the variable).
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "prompt_key"
  range_key                   = "version"
  deletion_protection_enabled = true

  attribute {
    name = "prompt_key"
    type = "S"
  }

  attribute {
    name = "version"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_s3_bucket" "prompts" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice for the platform, not this module; versioning and PITR-style object versions cover accidental loss.
  #checkov:skip=CKV_AWS_18:Server access logs need a separate log bucket owned by the platform; CloudTrail data events are the audit trail for prompt documents.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of this bucket; the registry reads it through DynamoDB pointers.
  bucket = local.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_versioning" "prompts" {
  bucket = aws_s3_bucket.prompts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "prompts" {
  bucket = aws_s3_bucket.prompts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "prompts" {
  bucket                  = aws_s3_bucket.prompts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "prompts" {
  bucket = aws_s3_bucket.prompts.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "prompts" {
  bucket = aws_s3_bucket.prompts.id

  rule {
    id     = "expire-noncurrent-documents"
    status = "Enabled"

    filter {
      prefix = "prompts/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
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

data "aws_iam_policy_document" "tls_only" {
  # The one wildcard action of the project: a Deny can only take privileges away, and a TLS-only
  # policy must cover every S3 action. The IAM check allow-lists exactly this shape (Deny, s3:*,
  # aws:SecureTransport = false).
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.prompts.arn, "${aws_s3_bucket.prompts.arn}/*"]

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

resource "aws_s3_bucket_policy" "prompts" {
  bucket = aws_s3_bucket.prompts.id
  policy = data.aws_iam_policy_document.tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.prompts]
}
