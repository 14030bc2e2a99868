# Optional orchestration (seed 000): Render → Invoke → Publish with retries, failures caught into
# RecordFailure. The definition ships with the pipeline crate; its only placeholder is
# `${pipeline_function_arn}`.

resource "aws_cloudwatch_log_group" "states" {
  #checkov:skip=CKV_AWS_158:Encrypted with kms_key_arn when one is given; otherwise CloudWatch's own encryption (checkov cannot see through the variable).
  name              = "/aws/vendedlogs/states/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_states" {
  statement {
    sid     = "StepFunctionsAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "states" {
  name               = "${local.name}-states"
  assume_role_policy = data.aws_iam_policy_document.assume_states.json
  tags               = var.tags
}

data "aws_iam_policy_document" "states" {
  statement {
    sid       = "InvokePipelineStages"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.pipeline.arn, "${aws_lambda_function.pipeline.arn}:*"]
  }

  # star-resource: CloudWatch Logs' vended-log delivery actions, which Step Functions needs to
  # write execution logs, support no resource-level permissions; AWS accepts only Resource "*".
  statement {
    sid    = "StepFunctionsLogDelivery"
    effect = "Allow"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # star-resource: X-Ray's trace and sampling actions support no resource-level permissions;
  # AWS accepts only Resource "*" for them.
  statement {
    sid       = "XRayTracing"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "states" {
  name   = "prompt-pipeline-states"
  role   = aws_iam_role.states.id
  policy = data.aws_iam_policy_document.states.json
}

resource "aws_sfn_state_machine" "pipeline" {
  #checkov:skip=CKV_AWS_285:Execution data holds prompt variables and model output; logs keep ERROR-level events without it, and outputs and errors objects in S3 are the record.
  name     = local.name
  role_arn = aws_iam_role.states.arn
  type     = "STANDARD"
  definition = templatefile("${path.module}/../../../promptops-pipeline/statemachine/pipeline.asl.json", {
    pipeline_function_arn = aws_lambda_function.pipeline.arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.states.arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags
}
