# Seed 001's interface, names and types unchanged; the variables after it are extras, each with a
# default, so the seed's wiring block works as it is.

variable "resource_prefix" {
  description = "Resource name prefix."
  type        = string
}

variable "environment" {
  description = "dev, staging, or production."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "prompt_table_name" {
  description = "DynamoDB table name for prompt metadata."
  type        = string
}

variable "prompt_table_arn" {
  description = "DynamoDB table ARN (for IAM)."
  type        = string
}

variable "prompt_bucket_name" {
  description = "S3 bucket name for prompt content."
  type        = string
}

variable "prompt_bucket_arn" {
  description = "S3 bucket ARN (for IAM)."
  type        = string
}

variable "storage_kms_key_arn" {
  description = "KMS key ARN for S3 encryption (and the table's, when it uses the same key); null when the AWS-managed keys are used."
  type        = string
  default     = null
}

variable "tags" {
  description = "Resource tags."
  type        = map(string)
  default     = {}
}

# --- extras (defaults keep seed 001's wiring block working unchanged) ---

variable "ssm_prefix" {
  description = "The URL is exported to SSM at `/{ssm_prefix}/prompt-registry/url`; null means `<resource_prefix>/<environment>`."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Lambda architecture: arm64 (Graviton, the default) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "package_path" {
  description = "Zip holding the `bootstrap` of promptops-registry-lambda; null means `infra/build/promptops-registry-lambda-<architecture>.zip`, where scripts/package_lambdas.sh writes it."
  type        = string
  default     = null
}

variable "iam_roles" {
  description = "Caller IAM ARN => registry role (reader, author or releaser); becomes PROMPTOPS_REGISTRY_IAM_ROLES. Callers not listed, and direct invokes, are readers."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for role in values(var.iam_roles) : contains(["reader", "author", "releaser"], role)])
    error_message = "iam_roles values must be reader, author or releaser."
  }
}

variable "caller_role_names" {
  description = "IAM role names that get the invoke policy (lambda:InvokeFunctionUrl and lambda:InvokeFunction on this function only)."
  type        = list(string)
  default     = []
}

variable "memory_size" {
  description = "Lambda memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Lambda timeout in seconds."
  type        = number
  default     = 15
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions: a ceiling on what the registry can cost and on the load it puts on the table."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "CloudWatch log retention in days."
  type        = number
  default     = 365
}
