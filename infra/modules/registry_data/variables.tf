variable "resource_prefix" {
  description = "Prefix of every resource name, e.g. `promptops`."
  type        = string
}

variable "environment" {
  description = "The registry's environment: dev, staging or production (seed 001's values)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "table_name" {
  description = "DynamoDB table name; defaults to `<resource_prefix>-<environment>-prompt-registry`."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "S3 bucket name for prompt documents; defaults to `<resource_prefix>-<environment>-prompt-registry-<account id>`."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the table and the bucket; null uses the AWS-managed keys (aws/dynamodb, aws/s3)."
  type        = string
  default     = null
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted prompt document version is kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
