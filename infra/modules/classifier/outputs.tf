output "function_name" {
  description = "The classifier Lambda's name (aws lambda invoke --function-name)."
  value       = aws_lambda_function.classifier.function_name
}

output "function_arn" {
  description = "The classifier Lambda's ARN."
  value       = aws_lambda_function.classifier.arn
}

output "role_name" {
  description = "The function's execution role: pass it to modules/registry's caller_role_names, which grants it invoke on the registry function."
  value       = aws_iam_role.classifier.name
}

output "role_arn" {
  description = "The function's execution role ARN."
  value       = aws_iam_role.classifier.arn
}

output "log_group_name" {
  description = "The function's log group (JSON prompt events)."
  value       = aws_cloudwatch_log_group.classifier.name
}
