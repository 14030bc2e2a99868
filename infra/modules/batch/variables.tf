variable "env" {
  description = "The deployment's environment: beta or prod. Names the resources; the job role can never write under the other environment's prefix of the output bucket."
  type        = string

  validation {
    condition     = contains(["beta", "prod"], var.env)
    error_message = "env must be beta or prod."
  }
}

variable "image" {
  description = "The promptops-batch container image (examples/batch/Dockerfile), pushed elsewhere: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG` or `…@sha256:DIGEST`. For an ECR image the execution role may pull exactly that repository. A tag or digest is required; `latest` is refused."
  type        = string

  validation {
    condition     = can(regex("^[^\\s*]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must name a tag (not latest) or a sha256 digest, without wildcards."
  }
}

variable "subnet_ids" {
  description = "Subnets the Fargate tasks run in. They need a route to S3, Bedrock, CloudWatch Logs and ECR: a NAT gateway, or VPC endpoints (S3 gateway; bedrock-runtime, logs, ecr.api, ecr.dkr interface endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the Fargate tasks. The job only makes outbound HTTPS calls: allow egress 443, no ingress."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids must name at least one security group."
  }
}

variable "assign_public_ip" {
  description = "Give each task a public IP (only for public subnets without a NAT gateway). Off by default: private subnets with a NAT gateway or VPC endpoints."
  type        = bool
  default     = false
}

variable "max_vcpus" {
  description = "The compute environment's ceiling: at most max_vcpus / vcpu shards run at once (the rest wait in the queue). It also caps the Bedrock request rate the job can cause."
  type        = number
  default     = 16

  validation {
    condition     = var.max_vcpus >= 1 && var.max_vcpus <= 10000
    error_message = "max_vcpus must be between 1 and 10000."
  }
}

variable "use_fargate_spot" {
  description = "Run on FARGATE_SPOT instead of FARGATE (cheaper; a reclaimed task is retried and resumes from its checkpoint)."
  type        = bool
  default     = false
}

variable "vcpu" {
  description = "vCPUs of each shard's task (a Fargate size: 0.25, 0.5, 1, 2, 4, 8 or 16)."
  type        = number
  default     = 1

  validation {
    condition     = contains([0.25, 0.5, 1, 2, 4, 8, 16], var.vcpu)
    error_message = "vcpu must be one of Fargate's sizes: 0.25, 0.5, 1, 2, 4, 8, 16."
  }
}

variable "memory" {
  description = "Memory of each shard's task in MiB; it must be a Fargate combination with vcpu (1 vCPU: 2048 to 8192). The job streams, so its memory stays flat whatever the input size."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB (and a valid Fargate combination with vcpu)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 (default; `docker build` on an x86_64 runner) or ARM64 (Graviton; build the image for linux/arm64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "input_bucket" {
  description = "Bucket holding the job's input objects (name, not ARN)."
  type        = string
}

variable "input_prefix" {
  description = "The only prefix of input_bucket the job may read, e.g. `beta/batch/input/`. It ends in `/` and is never empty (no whole-bucket grants)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.'()=-]+(/[A-Za-z0-9!_.'()=-]+)*/$", var.input_prefix))
    error_message = "input_prefix must be a non-empty key prefix ending in `/`, without wildcards or a leading `/`."
  }
}

variable "output_bucket" {
  description = "Bucket the job writes its results to (name, not ARN): the environment's own bucket."
  type        = string
}

variable "output_prefix" {
  description = "The only prefix of output_bucket the job may write (results, errors, staged parts) and list, e.g. `beta/batch/output/`. It ends in `/`, is never empty, and must not lie under the other environment's prefix."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.'()=-]+(/[A-Za-z0-9!_.'()=-]+)*/$", var.output_prefix))
    error_message = "output_prefix must be a non-empty key prefix ending in `/`, without wildcards or a leading `/`."
  }
}

variable "default_prompt" {
  description = "The job definition's default `prompt` parameter (a compiled-in prompt id); a submit-job call may override it."
  type        = string
  default     = "customer-support.intent-classifier"
}

variable "bedrock_model_ids" {
  description = "Bedrock model ids the job may invoke (in the job's region): the models of the prompts it runs. The default is the model of the default prompt (prompts/customer_support/intent_classifier.yaml: claude-3-5-sonnet). Inference-profile ids (`us.…`) are allowed too, with their foundation model in each of bedrock_profile_regions. null means the default."
  type        = list(string)
  default     = ["anthropic.claude-3-5-sonnet-20240620-v1:0"]
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
  description = "Further foundation-model or inference-profile ARNs (e.g. for `--model-id`). No wildcards."
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

variable "prompt_registry_function_name" {
  description = "The registry Lambda (modules/registry's prompt_registry_lambda_name) the job resolves its prompt through (PROMPT_REGISTRY_FUNCTION); null runs the compiled-in prompt only. The job role gets invoke on it through the registry module's caller_role_names (pass it the job_role_name output), not from this module."
  type        = string
  default     = null
}

variable "prompt_registry_mode" {
  description = "PROMPTOPS_REGISTRY_MODE when a registry is named: staging (beta) or production (prod) see stable versions only."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["simulation", "dev", "staging", "production"], var.prompt_registry_mode)
    error_message = "prompt_registry_mode must be simulation, dev, staging or production."
  }
}

variable "retry_attempts" {
  description = "Attempts per shard (1 to 10). A retried shard resumes from its checkpoint, so nothing is lost or doubled; a usage error (exit code 2) is not retried."
  type        = number
  default     = 3

  validation {
    condition     = var.retry_attempts >= 1 && var.retry_attempts <= 10
    error_message = "retry_attempts must be between 1 and 10."
  }
}

variable "attempt_timeout_seconds" {
  description = "Batch stops an attempt after this long (default 12 h). Size N so that one shard finishes well within it: the bucket's lifecycle aborts multipart uploads left incomplete for a day."
  type        = number
  default     = 43200

  validation {
    condition     = var.attempt_timeout_seconds >= 60
    error_message = "attempt_timeout_seconds must be at least 60."
  }
}

variable "resource_prefix" {
  description = "Prefix of resource names."
  type        = string
  default     = "promptops"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key of the buckets and of the log group; null uses the AWS-managed keys."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "CloudWatch log retention in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags on every resource (and propagated to the jobs' tasks)."
  type        = map(string)
  default     = {}
}
