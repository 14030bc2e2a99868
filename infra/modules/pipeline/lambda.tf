resource "aws_cloudwatch_log_group" "pipeline" {
  #checkov:skip=CKV_AWS_158:Encrypted with kms_key_arn when one is given; otherwise CloudWatch's own encryption (checkov cannot see through the variable).
  name              = "/aws/lambda/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = "${local.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

# The pipeline Lambda reads inputs and templates, reads and lists its own environment's outputs
# (the API serves them), writes only under `<env>/outputs/` and `<env>/errors/` (and its
# generation records under `<env>/generated/`), and invokes
# exactly the configured Bedrock model(s). It can never write under the other environment's
# prefix: nothing allows it, and an explicit Deny makes sure no later statement can.
data "aws_iam_policy_document" "pipeline" {
  statement {
    sid     = "ReadInputsAndTemplates"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.pipeline.arn}/${local.inputs_prefix}*",
      "${aws_s3_bucket.pipeline.arn}/${local.templates_prefix}*",
    ]
  }

  statement {
    sid     = "ReadOwnOutputs"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.pipeline.arn}/${local.outputs_prefix}*",
      "${aws_s3_bucket.pipeline.arn}/${local.errors_prefix}*",
    ]
  }

  statement {
    sid       = "ListOwnOutputs"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.pipeline.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [local.outputs_prefix, "${local.outputs_prefix}*"]
    }
  }

  statement {
    sid     = "WriteOwnEnvironment"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.pipeline.arn}/${local.outputs_prefix}*",
      "${aws_s3_bucket.pipeline.arn}/${local.errors_prefix}*",
    ]
  }

  # Generation records: the Invoke stage of a state machine execution writes the model's text
  # here, and the Publish stage reads it back (it takes only the record's key). Nothing else in
  # this module may write under this prefix, so a record is something an invoke produced.
  statement {
    sid     = "StoreGenerations"
    effect  = "Allow"
    actions = ["s3:GetObject", "s3:PutObject"]
    resources = [
      "${aws_s3_bucket.pipeline.arn}/${local.generated_prefix}*",
    ]
  }

  statement {
    sid       = "NeverWriteOtherEnvironment"
    effect    = "Deny"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.pipeline.arn}/${local.other_env}/*"]
  }

  statement {
    sid       = "InvokeConfiguredModel"
    effect    = "Allow"
    actions   = ["bedrock:InvokeModel"]
    resources = local.bedrock_model_arns
  }

  statement {
    sid       = "OwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.pipeline.arn}:*"]
  }

  # star-resource: X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level
  # permissions; AWS accepts only Resource "*" for them (the check allow-lists these two actions).
  statement {
    sid       = "XRayTracing"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "BucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "prompt-pipeline"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_lambda_function" "pipeline" {
  #checkov:skip=CKV_AWS_117:The pipeline talks only to S3, Bedrock and CloudWatch over TLS with IAM; a VPC would add NAT/endpoints and cold-start cost for no isolation gain.
  #checkov:skip=CKV_AWS_116:Failures are recorded by the handler itself as `<env>/errors/<slug>.json` plus a `prompt_failed` event; a DLQ would duplicate that (S3 retries async invokes twice).
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the platform owns; the zip is built in CI from a reviewed commit and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (environment name, bucket, model id, region); it is encrypted at rest with the Lambda service key.
  function_name                  = local.name
  description                    = "promptops prompt pipeline (${var.env})"
  role                           = aws_iam_role.pipeline.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = local.package_path
  source_code_hash               = filebase64sha256(local.package_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      PIPELINE_ENV     = var.env
      BUCKET           = aws_s3_bucket.pipeline.id
      DEFAULT_ENV      = coalesce(var.default_env, var.env)
      BEDROCK_MODEL_ID = var.bedrock_model_id
      BEDROCK_REGION   = local.bedrock_region
    }
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.pipeline, aws_iam_role_policy.pipeline]
}
