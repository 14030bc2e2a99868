# Seed 000's pipeline for one environment: the environment's bucket and prefixes, the S3
# notification on `prompt_inputs/*.json` straight to the pipeline Lambda, the Step Functions
# state machine from the shipped ASL, and the HTTP API (list, preview, regenerate) with IAM auth.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name           = "${var.resource_prefix}-${var.env}-pipeline"
  package_path   = coalesce(var.package_path, "${path.module}/../../build/promptops-pipeline-lambda-${var.architecture}.zip")
  partition      = data.aws_partition.current.partition
  account_id     = data.aws_caller_identity.current.account_id
  bedrock_region = coalesce(var.bedrock_region, data.aws_region.current.name)
  # The other environment: this deployment must never write under its prefix.
  other_env = var.env == "beta" ? "prod" : "beta"

  # The layout the pipeline binary reads and writes (issue 14).
  inputs_prefix    = "prompt_inputs/"
  inputs_suffix    = ".json"
  templates_prefix = "prompt_templates/"
  outputs_prefix   = "${var.env}/outputs/"
  errors_prefix    = "${var.env}/errors/"
  # Generation records (issue 21): the Step Functions Invoke stage stores the model's text here
  # and hands Publish only the key, so no task input can choose the text that is published.
  generated_prefix = "${var.env}/generated/"

  # Bedrock: exactly the configured model. A cross-region inference profile (`us.…`, `eu.…`,
  # `apac.…`, `global.…`) needs the profile ARN and the foundation model in each region it routes to.
  is_profile    = can(regex("^(us|eu|apac|us-gov|global)\\.", var.bedrock_model_id))
  base_model_id = local.is_profile ? replace(var.bedrock_model_id, "/^[a-z-]+\\./", "") : var.bedrock_model_id
  model_regions = local.is_profile ? distinct(concat([local.bedrock_region], var.bedrock_profile_regions)) : [local.bedrock_region]
  bedrock_model_arns = concat(
    [for region in local.model_regions : "arn:${local.partition}:bedrock:${region}::foundation-model/${local.base_model_id}"],
    local.is_profile ? ["arn:${local.partition}:bedrock:${local.bedrock_region}:${local.account_id}:inference-profile/${var.bedrock_model_id}"] : [],
    var.extra_bedrock_model_arns,
  )

  # The routes the Lambda's API handler serves (issue 14), each with AWS_IAM authorization.
  api_routes = ["GET /outputs", "POST /preview", "POST /regenerate"]
}
