output "prompt_registry_url" {
  description = "Lambda Function URL (IAM auth)."
  value       = aws_lambda_function_url.registry.function_url
}

output "prompt_registry_lambda_arn" {
  description = "Lambda ARN."
  value       = aws_lambda_function.registry.arn
}

output "prompt_registry_lambda_name" {
  description = "Lambda function name."
  value       = aws_lambda_function.registry.function_name
}

output "prompt_registry_invoke_policy_arn" {
  description = "Managed policy granting lambda:InvokeFunctionUrl and lambda:InvokeFunction on this function only; attach it to callers."
  value       = aws_iam_policy.invoke.arn
}

output "prompt_registry_ssm_parameter" {
  description = "SSM parameter holding the URL."
  value       = aws_ssm_parameter.registry_url.name
}
