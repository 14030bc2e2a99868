variable "env" {
  description = "The deployment's environment: beta or prod (names the resources)."
  type        = string

  validation {
    condition     = contains(["beta", "prod"], var.env)
    error_message = "env must be beta or prod."
  }
}

variable "registry_function_name" {
  description = "The prompt registry's Lambda (modules/registry's prompt_registry_lambda_name): PROMPT_REGISTRY_FUNCTION. The classifier's role gets invoke on it through that module's caller_role_names (pass it this module's role_name output)."
  type        = string
}

variable "registry_mode" {
  description = "PROMPTOPS_REGISTRY_MODE, sent with every registry request: staging (beta) or production (prod) see stable versions only."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["simulation", "dev", "staging", "production"], var.registry_mode)
    error_message = "registry_mode must be simulation, dev, staging or production."
  }
}

variable "bedrock_model_ids" {
  description = "Bedrock model ids the function may invoke: the models of the prompts it calls (prompts/customer_support/intent_classifier.yaml: claude-3-5-sonnet; ticket_triage.yaml: claude-3-5-haiku). Inference-profile ids (`us.…`) are allowed, with their foundation model in each of bedrock_profile_regions. null means the default."
  type        = list(string)
  default     = ["anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"]
  nullable    = false

  validation {
    condition     = length(var.bedrock_model_ids) > 0 && alltrue([for id in var.bedrock_model_ids : can(regex("^[a-z0-9.:-]+$", id))])
    error_message = "bedrock_model_ids must be model or inference-profile ids (no wildcards)."
  }
}

variable "bedrock_profile_regions" {
  description = "For inference-profile ids: the regions the profiles route to (IAM must allow the foundation model in each)."
  type        = list(string)
  default     = []
}

variable "extra_bedrock_model_arns" {
  description = "Further foundation-model or inference-profile ARNs (a registry version of a prompt may name another model). No wildcards."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for arn in var.extra_bedrock_model_arns :
      can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]*:(foundation-model|inference-profile|application-inference-profile)/[A-Za-z0-9.:-]+$", arn))
    ])
    error_message = "extra_bedrock_model_arns must be foundation-model or inference-profile ARNs without wildcards."
  }
}

variable "resource_prefix" {
  description = "Prefix of resource names."
  type        = string
  default     = "promptops"
}

variable "architecture" {
  description = "Lambda architecture: arm64 (default) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "package_path" {
  description = "Zip holding the `bootstrap` of promptops-lambda; null means `infra/build/promptops-lambda-<architecture>.zip` (scripts/package_lambdas.sh). envs/prod passes the production build, `…-<architecture>-production.zip` (PROMPTOPS_ENV=production: drafts compiled out)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key of the log group; null uses CloudWatch's own encryption."
  type        = string
  default     = null
}

variable "memory_size" {
  description = "Lambda memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Lambda timeout in seconds: a classification (and, with `triage`, a second call) including the runtime's retries. The handler gives up on the model 250 ms before it and answers ModelError."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout must be between 3 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions: a ceiling on the Bedrock spend and throttling a burst of requests can cause, and on the load on the registry."
  type        = number
  default     = 20
  nullable    = false
}

variable "log_filter" {
  description = "RUST_LOG: `info` logs every prompt event; `promptops=info` keeps only them."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "CloudWatch log retention in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
