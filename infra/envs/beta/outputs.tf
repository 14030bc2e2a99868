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
