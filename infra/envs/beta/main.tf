# The beta environment: a root module that fixes its own environment (no `-var env=…`).
#   cd infra/envs/beta && terraform init && terraform apply

data "aws_caller_identity" "current" {}

locals {
  env                  = "beta"
  registry_environment = "staging"
  tags                 = merge(var.tags, { project = "promptops", environment = local.env })
  bucket_name          = coalesce(var.bucket_name, "${var.resource_prefix}-${local.env}-pipeline-${data.aws_caller_identity.current.account_id}")
}

module "data" {
  source = "../../modules/registry_data"

  resource_prefix = var.resource_prefix
  environment     = local.registry_environment
  kms_key_arn     = var.kms_key_arn
  tags            = local.tags
}

# Seed 001's wiring block, argument for argument.
module "prompt_registry" {
  source = "../../modules/registry"

  resource_prefix     = var.resource_prefix
  environment         = local.registry_environment
  prompt_table_name   = module.data.table_name
  prompt_table_arn    = module.data.table_arn
  prompt_bucket_name  = module.data.bucket_name
  prompt_bucket_arn   = module.data.bucket_arn
  storage_kms_key_arn = var.kms_key_arn
  tags                = local.tags

  ssm_prefix        = "${var.resource_prefix}/${local.env}"
  architecture      = var.architecture
  iam_roles         = var.registry_iam_roles
  caller_role_names = var.registry_caller_role_names
}

module "pipeline" {
  source = "../../modules/pipeline"

  env                      = local.env
  bucket_name              = local.bucket_name
  bedrock_region           = var.bedrock_region
  bedrock_model_id         = var.bedrock_model_id
  bedrock_profile_regions  = var.bedrock_profile_regions
  extra_bedrock_model_arns = var.extra_bedrock_model_arns
  resource_prefix          = var.resource_prefix
  architecture             = var.architecture
  kms_key_arn              = var.kms_key_arn
  operator_role_names      = var.operator_role_names
  tags                     = local.tags
}
