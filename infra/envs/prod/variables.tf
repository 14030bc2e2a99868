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

variable "classifier_bedrock_model_ids" {
  description = "Bedrock model ids the classifier may invoke; null means its prompts' models (modules/classifier's default)."
  type        = list(string)
  default     = null
}

variable "classifier_reserved_concurrency" {
  description = "Reserved concurrent executions of the classifier; null means the module's default (20)."
  type        = number
  default     = null
}

variable "batch_image" {
  description = "The promptops-batch image URI (ECR, tag or digest) built from examples/batch/Dockerfile; null leaves AWS Batch out of this environment."
  type        = string
  default     = null
}

variable "batch_subnet_ids" {
  description = "Subnets of the batch job's Fargate tasks (with a route to S3, Bedrock, CloudWatch Logs and ECR). Required with batch_image."
  type        = list(string)
  default     = []
}

variable "batch_security_group_ids" {
  description = "Security groups of the batch job's Fargate tasks (egress 443). Required with batch_image."
  type        = list(string)
  default     = []
}

variable "batch_max_vcpus" {
  description = "The batch compute environment's vCPU ceiling (how many shards run at once)."
  type        = number
  default     = 16
}

variable "batch_input_bucket" {
  description = "Bucket the batch job reads its input from; null means this environment's pipeline bucket."
  type        = string
  default     = null
}

variable "batch_input_prefix" {
  description = "The only prefix of batch_input_bucket the batch job may read; null means `<env>/batch/input/`."
  type        = string
  default     = null
}

variable "batch_bedrock_model_ids" {
  description = "Bedrock model ids the batch job may invoke; null means the default prompt's model (modules/batch's default)."
  type        = list(string)
  default     = null
}
