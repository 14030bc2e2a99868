variable "env" {
  description = "The deployment's own environment (seed 000's `env`): beta or prod. Becomes PIPELINE_ENV; outputs go to `<env>/outputs/`."
  type        = string

  validation {
    condition     = contains(["beta", "prod"], var.env)
    error_message = "env must be beta or prod."
  }
}

variable "bucket_name" {
  description = "The environment's bucket (seed 000's `bucket_name`): inputs under `prompt_inputs/`, templates under `prompt_templates/`, outputs under `<env>/outputs/`."
  type        = string
}

variable "bedrock_region" {
  description = "Region Bedrock is called in; null means the provider's region."
  type        = string
  default     = null
}

variable "bedrock_model_id" {
  description = "Bedrock model id (BEDROCK_MODEL_ID): a foundation model such as `anthropic.claude-3-5-sonnet-20240620-v1:0`, or a cross-region inference profile such as `us.anthropic.claude-3-5-sonnet-20240620-v1:0`. IAM allows exactly this model."
  type        = string
  default     = "anthropic.claude-3-5-sonnet-20240620-v1:0"

  validation {
    condition     = can(regex("^[a-z0-9.:-]+$", var.bedrock_model_id))
    error_message = "bedrock_model_id must be a model or inference-profile id (no wildcards)."
  }
}

variable "bedrock_profile_regions" {
  description = "For an inference-profile model id: the regions the profile routes to (IAM must allow the foundation model in each). Ignored for a plain model id."
  type        = list(string)
  default     = []
}

variable "extra_bedrock_model_arns" {
  description = "Further foundation-model or inference-profile ARNs a config may name (model ids in configs override BEDROCK_MODEL_ID). No wildcards."
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

variable "default_env" {
  description = "DEFAULT_ENV: the environment of inputs with neither `env` metadata nor a `beta-`/`prod-` file-name prefix; null means `env`."
  type        = string
  default     = null

  validation {
    condition     = var.default_env == null ? true : contains(["beta", "prod"], var.default_env)
    error_message = "default_env must be beta or prod."
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
  description = "Zip holding the `bootstrap` of promptops-pipeline-lambda; null means `infra/build/promptops-pipeline-lambda-<architecture>.zip` (scripts/package_lambdas.sh)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket and logs; null uses the AWS-managed keys."
  type        = string
  default     = null
}

variable "outputs_expiration_days" {
  description = "Days after which a superseded (noncurrent) output or error object expires."
  type        = number
  default     = 30
}

variable "generations_expiration_days" {
  description = "Days after which a generation record (`<env>/generated/`, the model's text between the state machine's Invoke and Publish stages) expires. At least 14 keeps a failed execution redrivable."
  type        = number
  default     = 14
}

variable "memory_size" {
  description = "Lambda memory in MB."
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Lambda timeout in seconds (a render plus a Bedrock call with retries)."
  type        = number
  default     = 120
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions: caps the Bedrock spend and throttling a burst of uploads can cause."
  type        = number
  default     = 20
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

variable "operator_role_names" {
  description = "IAM role names (e.g. the CI deploy role) that get the operator policy: upload configs and templates, call the API's three routes, start the state machine."
  type        = list(string)
  default     = []
}
