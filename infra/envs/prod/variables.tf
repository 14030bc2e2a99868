variable "region" {
  description = "AWS region of this environment."
  type        = string
  default     = "us-east-1"
}

variable "resource_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "promptops"
}

variable "bucket_name" {
  description = "The pipeline bucket (seed 000's `bucket_name`); null means `<resource_prefix>-<env>-pipeline-<account id>`."
  type        = string
  default     = null
}

variable "bedrock_region" {
  description = "Region Bedrock is called in; null means `region`."
  type        = string
  default     = null
}

variable "bedrock_model_id" {
  description = "Bedrock model id or inference-profile id the pipeline invokes (and the only one IAM allows, with extra_bedrock_model_arns)."
  type        = string
  default     = "anthropic.claude-3-5-sonnet-20240620-v1:0"
}

variable "bedrock_profile_regions" {
  description = "Regions a cross-region inference profile routes to (only for an inference-profile model id)."
  type        = list(string)
  default     = []
}

variable "extra_bedrock_model_arns" {
  description = "Further foundation-model / inference-profile ARNs configs may name."
  type        = list(string)
  default     = []
}

variable "architecture" {
  description = "Lambda architecture for both functions: arm64 (default) or x86_64."
  type        = string
  default     = "arm64"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for tables, buckets and logs; null uses AWS-managed keys."
  type        = string
  default     = null
}

variable "registry_iam_roles" {
  description = "Caller IAM ARN => registry role (reader, author, releaser): PROMPTOPS_REGISTRY_IAM_ROLES."
  type        = map(string)
  default     = {}
}

variable "registry_caller_role_names" {
  description = "IAM role names that may invoke the registry (lambda:InvokeFunctionUrl / InvokeFunction on it only)."
  type        = list(string)
  default     = []
}

variable "operator_role_names" {
  description = "IAM role names that operate the pipeline (upload configs, call the API, start the state machine)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}
