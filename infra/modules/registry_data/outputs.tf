output "table_name" {
  description = "DynamoDB table of prompt metadata (seed 001's `prompt_table_name`)."
  value       = aws_dynamodb_table.prompts.name
}

output "table_arn" {
  description = "DynamoDB table ARN (seed 001's `prompt_table_arn`)."
  value       = aws_dynamodb_table.prompts.arn
}

output "bucket_name" {
  description = "S3 bucket of prompt documents (seed 001's `prompt_bucket_name`)."
  value       = aws_s3_bucket.prompts.id
}

output "bucket_arn" {
  description = "S3 bucket ARN (seed 001's `prompt_bucket_arn`)."
  value       = aws_s3_bucket.prompts.arn
}
