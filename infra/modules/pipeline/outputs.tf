output "bucket_name" {
  description = "The environment's bucket."
  value       = aws_s3_bucket.pipeline.id
}

output "bucket_arn" {
  description = "The environment's bucket ARN."
  value       = aws_s3_bucket.pipeline.arn
}

output "pipeline_lambda_arn" {
  description = "The pipeline Lambda's ARN."
  value       = aws_lambda_function.pipeline.arn
}

output "pipeline_lambda_name" {
  description = "The pipeline Lambda's name."
  value       = aws_lambda_function.pipeline.function_name
}

output "state_machine_arn" {
  description = "The Step Functions state machine (Render → Invoke → Publish)."
  value       = aws_sfn_state_machine.pipeline.arn
}

output "api_endpoint" {
  description = "The HTTP API's base URL (routes GET /outputs, POST /preview, POST /regenerate; SigV4-signed requests)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "operator_policy_arn" {
  description = "Managed policy for operators of this environment."
  value       = aws_iam_policy.operator.arn
}

output "outputs_prefix" {
  description = "Where outputs land: `<env>/outputs/`."
  value       = local.outputs_prefix
}
