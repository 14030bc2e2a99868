output "prompt_registry_url" {
  description = "The registry's Function URL (AWS_IAM)."
  value       = module.prompt_registry.prompt_registry_url
}

output "prompt_registry_lambda_name" {
  description = "The registry Lambda's name."
  value       = module.prompt_registry.prompt_registry_lambda_name
}

output "prompt_registry_invoke_policy_arn" {
  description = "Attach to callers of the registry."
  value       = module.prompt_registry.prompt_registry_invoke_policy_arn
}

output "pipeline_bucket" {
  description = "The pipeline bucket: upload configs to prompt_inputs/."
  value       = module.pipeline.bucket_name
}

output "pipeline_api_endpoint" {
  description = "The pipeline's HTTP API (IAM auth)."
  value       = module.pipeline.api_endpoint
}

output "pipeline_state_machine_arn" {
  description = "The pipeline's state machine."
  value       = module.pipeline.state_machine_arn
}

output "pipeline_operator_policy_arn" {
  description = "Attach to operators of this environment."
  value       = module.pipeline.operator_policy_arn
}

output "classifier_function_name" {
  description = "The classifier Lambda (promptops-lambda)."
  value       = module.classifier.function_name
}

output "classifier_role_name" {
  description = "The classifier's role (granted invoke on the registry)."
  value       = module.classifier.role_name
}

output "batch_job_queue" {
  description = "The AWS Batch job queue; null when batch_image is not set."
  value       = one(module.batch[*].job_queue_name)
}

output "batch_job_role_name" {
  description = "The batch job's role (granted invoke on the registry); null when batch_image is not set."
  value       = one(module.batch[*].job_role_name)
}

output "batch_submit_command" {
  description = "The submit-job command of a sharded run; null when batch_image is not set."
  value       = one(module.batch[*].submit_command)
}

output "batch_merge_command" {
  description = "The submit-job command of the merge of a sharded run; null when batch_image is not set."
  value       = one(module.batch[*].merge_command)
}
