# What an operator (the CI deploy role, a developer) needs to use this environment: upload configs
# and templates, call the API's three routes, start and follow the state machine. Nothing else,
# and nothing in the other environment.

data "aws_iam_policy_document" "operator" {
  statement {
    sid     = "UploadConfigsAndTemplates"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.pipeline.arn}/${local.inputs_prefix}*",
      "${aws_s3_bucket.pipeline.arn}/${local.templates_prefix}*",
    ]
  }

  statement {
    sid     = "CallPipelineApi"
    effect  = "Allow"
    actions = ["execute-api:Invoke"]
    resources = [
      "${aws_apigatewayv2_stage.default.execution_arn}/GET/outputs",
      "${aws_apigatewayv2_stage.default.execution_arn}/POST/preview",
      "${aws_apigatewayv2_stage.default.execution_arn}/POST/regenerate",
    ]
  }

  statement {
    sid       = "StartPipeline"
    effect    = "Allow"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.pipeline.arn]
  }

  statement {
    sid       = "FollowPipeline"
    effect    = "Allow"
    actions   = ["states:DescribeExecution", "states:GetExecutionHistory"]
    resources = ["arn:${local.partition}:states:${data.aws_region.current.name}:${local.account_id}:execution:${aws_sfn_state_machine.pipeline.name}:*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "BucketKey"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${local.name}-operator"
  description = "Operate the promptops pipeline (${var.env}): upload configs, call its API, start its state machine."
  policy      = data.aws_iam_policy_document.operator.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "operators" {
  for_each   = toset(var.operator_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.operator.arn
}
