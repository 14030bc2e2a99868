# The prod environment: a root module that fixes its own environment (no `-var env=…`).
#   cd infra/envs/prod && terraform init && terraform apply

data "aws_caller_identity" "current" {}

locals {
  env                  = "prod"
  registry_environment = "production"
  tags                 = merge(var.tags, { project = "promptops", environment = local.env })
  bucket_name          = coalesce(var.bucket_name, "${var.resource_prefix}-${local.env}-pipeline-${data.aws_caller_identity.current.account_id}")

  # prod deploys production builds only (PROMPTOPS_ENV=production: draft prompts compiled out).
  # scripts/package_lambdas.sh names those `<binary>-<arch>-production.zip`, so a development
  # build left in infra/build can never reach prod: the plan fails on the missing file instead.
  build_dir      = "${path.module}/../../build"
  package_suffix = "${var.architecture}-production.zip"
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

  ssm_prefix   = "${var.resource_prefix}/${local.env}"
  architecture = var.architecture
  iam_roles    = var.registry_iam_roles
  package_path = "${local.build_dir}/promptops-registry-lambda-${local.package_suffix}"

  # The applications that resolve prompts through the registry get invoke on it here, and only
  # here: the classifier's role, and the batch job's role when the batch module is deployed.
  caller_role_names = concat(var.registry_caller_role_names, [module.classifier.role_name], module.batch[*].job_role_name)
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
  package_path             = "${local.build_dir}/promptops-pipeline-lambda-${local.package_suffix}"
  tags                     = local.tags
}

module "classifier" {
  source = "../../modules/classifier"

  env                     = local.env
  registry_function_name  = module.prompt_registry.prompt_registry_lambda_name
  registry_mode           = local.registry_environment
  bedrock_model_ids       = var.classifier_bedrock_model_ids
  bedrock_profile_regions = var.bedrock_profile_regions
  reserved_concurrency    = var.classifier_reserved_concurrency
  resource_prefix         = var.resource_prefix
  architecture            = var.architecture
  package_path            = "${local.build_dir}/promptops-lambda-${local.package_suffix}"
  kms_key_arn             = var.kms_key_arn
  tags                    = local.tags
}

# Sharded promptops-batch runs on AWS Batch (Fargate). Deployed once batch_image names a pushed
# image (nothing here pushes one) and batch_subnet_ids / batch_security_group_ids the network.
# It reads `<env>/batch/input/` and writes only `<env>/batch/output/` of this environment's own
# bucket (unless batch_input_bucket / batch_input_prefix point the reads elsewhere).
module "batch" {
  source = "../../modules/batch"
  count  = var.batch_image == null ? 0 : 1

  env                           = local.env
  image                         = var.batch_image
  subnet_ids                    = var.batch_subnet_ids
  security_group_ids            = var.batch_security_group_ids
  max_vcpus                     = var.batch_max_vcpus
  input_bucket                  = coalesce(var.batch_input_bucket, module.pipeline.bucket_name)
  input_prefix                  = coalesce(var.batch_input_prefix, "${local.env}/batch/input/")
  output_bucket                 = module.pipeline.bucket_name
  output_prefix                 = "${local.env}/batch/output/"
  bedrock_model_ids             = var.batch_bedrock_model_ids
  bedrock_profile_regions       = var.bedrock_profile_regions
  prompt_registry_function_name = module.prompt_registry.prompt_registry_lambda_name
  prompt_registry_mode          = local.registry_environment
  resource_prefix               = var.resource_prefix
  kms_key_arn                   = var.kms_key_arn
  tags                          = local.tags
}
