# Seed 001's prompt registry: the Rust Lambda (promptops-registry-lambda, `provided.al2023`)
# behind a Function URL with AWS_IAM auth, its least-privilege role, the callers' invoke policy,
# and the URL exported to SSM.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  function_name = "${var.resource_prefix}-${var.environment}-prompt-registry"
  package_path  = coalesce(var.package_path, "${path.module}/../../build/promptops-registry-lambda-${var.architecture}.zip")
  ssm_prefix    = trim(coalesce(var.ssm_prefix, "${var.resource_prefix}/${var.environment}"), "/")
  # PROMPTOPS_REGISTRY_IAM_ROLES: `arn=role` pairs, comma-separated (promptops-registry/src/auth.rs).
  iam_roles = join(",", [for arn in sort(keys(var.iam_roles)) : "${arn}=${var.iam_roles[arn]}"])
  log_group = "/aws/lambda/${local.function_name}"
}

resource "aws_cloudwatch_log_group" "registry" {
  #checkov:skip=CKV_AWS_158:Encrypted with the storage KMS key when one is given; otherwise CloudWatch's own encryption (checkov cannot see through the variable).
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.storage_kms_key_arn
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
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "registry" {
  name               = "${local.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

# What promptops-registry/src/store/dynamo.rs calls, and nothing else:
# GetItem and Query (consistent reads), PutItem (conditional create of a version),
# TransactWriteItems with Put and Update items (IAM authorises each item as PutItem / UpdateItem;
# there is no `TransactWriteItems` IAM action), and S3 Put/Get/DeleteObject under `prompts/`.
data "aws_iam_policy_document" "registry" {
  statement {
    sid       = "PromptTable"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [var.prompt_table_arn, "${var.prompt_table_arn}/index/*"]
  }

  statement {
    sid       = "PromptDocuments"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.prompt_bucket_arn}/prompts/*"]
  }

  statement {
    sid       = "OwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.registry.arn}:*"]
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
    for_each = var.storage_kms_key_arn == null ? [] : [var.storage_kms_key_arn]
    content {
      sid       = "StorageKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "registry" {
  name   = "prompt-registry"
  role   = aws_iam_role.registry.id
  policy = data.aws_iam_policy_document.registry.json
}

resource "aws_lambda_function" "registry" {
  #checkov:skip=CKV_AWS_117:The registry talks only to DynamoDB, S3 and CloudWatch over TLS with IAM; a VPC would add NAT/endpoints and cold-start cost for no isolation gain.
  #checkov:skip=CKV_AWS_116:Invoked synchronously through the Function URL; a DLQ only applies to asynchronous invokes.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the platform owns; the zip is built in CI from a reviewed commit and its hash is pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (table, bucket, ARN-to-role map); it is encrypted at rest with the Lambda service key.
  function_name                  = local.function_name
  description                    = "promptops prompt registry (${var.environment})"
  role                           = aws_iam_role.registry.arn
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
      DYNAMODB_TABLE               = var.prompt_table_name
      S3_BUCKET                    = var.prompt_bucket_name
      PROMPTOPS_REGISTRY_IAM_ROLES = local.iam_roles
    }
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.registry, aws_iam_role_policy.registry]
}

resource "aws_lambda_function_url" "registry" {
  function_name      = aws_lambda_function.registry.function_name
  authorization_type = "AWS_IAM"
}

resource "aws_ssm_parameter" "registry_url" {
  #checkov:skip=CKV2_AWS_34:The registry URL is not a secret (callers still need IAM credentials); a String keeps it readable by every agent runtime without KMS grants.
  name        = "/${local.ssm_prefix}/prompt-registry/url"
  description = "promptops prompt registry Function URL (AWS_IAM auth)"
  type        = "String"
  value       = aws_lambda_function_url.registry.function_url
  tags        = var.tags
}

# Callers (agents, CI) get exactly these two actions on this function, nothing wider.
data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "InvokePromptRegistry"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
    resources = [aws_lambda_function.registry.arn]
  }
}

resource "aws_iam_policy" "invoke" {
  name        = "${local.function_name}-invoke"
  description = "Invoke the promptops prompt registry (${var.environment}) and nothing else."
  policy      = data.aws_iam_policy_document.invoke.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "callers" {
  for_each   = toset(var.caller_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.invoke.arn
}
