# The HTTP API (seed 000's "list, preview, regenerate"), each route AWS_IAM-authorized and proxied
# to the pipeline Lambda's lambda_http handler.

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_158:Encrypted with kms_key_arn when one is given; otherwise CloudWatch's own encryption (checkov cannot see through the variable).
  name              = "/aws/apigateway/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_api" "pipeline" {
  name          = local.name
  protocol_type = "HTTP"
  description   = "promptops pipeline API (${var.env}): list outputs, preview a render, regenerate"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "pipeline" {
  api_id                 = aws_apigatewayv2_api.pipeline.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.pipeline.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "pipeline" {
  for_each = toset(local.api_routes)

  api_id             = aws_apigatewayv2_api.pipeline.id
  route_key          = each.value
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.pipeline.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.pipeline.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      caller         = "$context.identity.userArn"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      latency        = "$context.responseLatency"
      integrationErr = "$context.integrationErrorMessage"
    })
  }

  default_route_settings {
    throttling_burst_limit = 50
    throttling_rate_limit  = 20
  }

  tags = var.tags
}

# API Gateway may invoke the function for exactly these routes.
resource "aws_lambda_permission" "api_invoke" {
  for_each = toset(local.api_routes)

  statement_id  = "AllowApi${replace(title(lower(replace(each.value, "/[^A-Za-z]+/", " "))), " ", "")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.pipeline.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.pipeline.execution_arn}/*/${replace(each.value, " ", "")}"
}
