# Issue 27, part 4: the application that consumes the registry, deployed beside it. The Rust
# Lambda promptops-lambda (examples/lambda): it classifies a support message with the compiled-in
# prompt customer-support.intent-classifier (and, on request, customer-support.ticket-triage),
# resolving both through the prompt registry (PROMPT_REGISTRY_FUNCTION, a direct invoke) when the
# registry's version honours the compiled contract.
#
# Its role may write its own logs, send X-Ray traces and invoke the prompts' Bedrock models. It
# gets invoke on the registry function from modules/registry's caller_role_names (the role_name
# output), not from a policy of its own, so the registry module stays the one place that says
# who may call it.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name         = "${var.resource_prefix}-${var.env}-classifier"
  package_path = coalesce(var.package_path, "${path.module}/../../build/promptops-lambda-${var.architecture}.zip")
  partition    = data.aws_partition.current.partition
  region       = data.aws_region.current.name
  account_id   = data.aws_caller_identity.current.account_id

  # Bedrock is called in the function's own region (AWS_REGION, which Lambda sets). Exactly the
  # listed models; a cross-region inference profile id (`us.…`) needs the profile ARN and its
  # foundation model in each region it routes to.
  profile_pattern = "^(us|eu|apac|us-gov|global|jp|au|ca)\\."
  bedrock_model_arns = distinct(concat(
    flatten([
      for id in var.bedrock_model_ids : [
        for region in(can(regex(local.profile_pattern, id)) ? distinct(concat([local.region], var.bedrock_profile_regions)) : [local.region]) :
        "arn:${local.partition}:bedrock:${region}::foundation-model/${can(regex(local.profile_pattern, id)) ? replace(id, "/^[a-z-]+\\./", "") : id}"
      ]
    ]),
    [for id in var.bedrock_model_ids : "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${id}" if can(regex(local.profile_pattern, id))],
    var.extra_bedrock_model_arns,
  ))
}

resource "aws_cloudwatch_log_group" "classifier" {
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

resource "aws_iam_role" "classifier" {
  name               = "${local.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

data "aws_iam_policy_document" "classifier" {
  # The Converse API (the runtime's default) is authorised by bedrock:InvokeModel too.
  statement {
    sid       = "InvokePromptModels"
    effect    = "Allow"
    actions   = ["bedrock:InvokeModel"]
    resources = local.bedrock_model_arns
  }

  statement {
    sid       = "OwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.classifier.arn}:*"]
  }

  # star-resource: X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level
  # permissions; AWS accepts only Resource "*" for them (the check allow-lists these two actions).
  statement {
    sid       = "XRayTracing"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "classifier" {
  name   = "promptops-classifier"
  role   = aws_iam_role.classifier.id
  policy = data.aws_iam_policy_document.classifier.json
}

resource "aws_lambda_function" "classifier" {
  #checkov:skip=CKV_AWS_117:The classifier talks only to Bedrock, the registry function and CloudWatch over TLS with IAM; a VPC would add NAT/endpoints and cold-start cost for no isolation gain.
  #checkov:skip=CKV_AWS_116:Invoked synchronously (direct invoke or HTTP); every failure is answered to the caller and logged as a prompt_failed event, so a DLQ has nothing to hold.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the platform owns; the zip is built in CI from a reviewed commit and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (model backend, registry function name and mode); it is encrypted at rest with the Lambda service key.
  function_name                  = local.name
  description                    = "promptops support-message classifier (${var.env})"
  role                           = aws_iam_role.classifier.arn
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
      PROMPTOPS_MODEL          = "bedrock"
      PROMPT_REGISTRY_FUNCTION = var.registry_function_name
      PROMPTOPS_REGISTRY_MODE  = var.registry_mode
      RUST_LOG                 = var.log_filter
    }
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.classifier, aws_iam_role_policy.classifier]
}
